// Package buildinfo holds the version of this build of migrate and migrated.
package buildinfo

import "runtime/debug"

// Version is set at link time with -ldflags "-X .../buildinfo.Version=v1.2.3";
// otherwise it is taken from the module's build information.
var Version = ""

// String returns the version of this build, never empty.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if dirty {
				rev += "-dirty"
			}
			return "0.1.0-dev+" + rev
		}
	}
	return "0.1.0-dev"
}
