package procfs

import (
	"reflect"
	"testing"
)

func TestParseMaps(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Mapping
		wantErr bool
	}{
		{name: "empty"},
		{
			name: "file",
			in:   "559e09b99000-559e09b9b000 r--p 00000000 fe:00 247026                     /usr/bin/cat\n",
			want: []Mapping{{Start: 0x559e09b99000, End: 0x559e09b9b000, Perms: PermRead,
				DevMajor: 0xfe, Inode: 247026, Path: "/usr/bin/cat"}},
		},
		{
			name: "anonymous with trailing space, no newline",
			in:   "7f9f49ed9000-7f9f49efb000 rw-p 00000000 00:00 0 ",
			want: []Mapping{{Start: 0x7f9f49ed9000, End: 0x7f9f49efb000, Perms: PermRead | PermWrite}},
		},
		{
			name: "path with spaces deleted",
			in:   "7f0000000000-7f0000002000 rw-s 00001000 00:19 4242                       /dev/shm/my file (deleted)\n",
			want: []Mapping{{Start: 0x7f0000000000, End: 0x7f0000002000, Perms: PermRead | PermWrite | PermShared,
				Offset: 0x1000, DevMinor: 0x19, Inode: 4242, Path: "/dev/shm/my file", Deleted: true}},
		},
		{
			name: "memfd",
			in:   "7f0000000000-7f0000001000 rw-s 00000000 00:01 1046                       /memfd:foo bar (deleted)\n",
			want: []Mapping{{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: PermRead | PermWrite | PermShared,
				DevMinor: 1, Inode: 1046, Path: "/memfd:foo bar", Deleted: true}},
		},
		{
			name: "trailing spaces in path kept",
			in:   "1000-2000 r-xp 00000000 103:02 7 /tmp/a b \n",
			want: []Mapping{{Start: 0x1000, End: 0x2000, Perms: PermRead | PermExec,
				DevMajor: 0x103, DevMinor: 2, Inode: 7, Path: "/tmp/a b "}},
		},
		{
			name: "named anon and vsyscall",
			in: "7f0000000000-7f0000001000 rw-p 00000000 00:00 0                          [anon:Go: heap]\n" +
				"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n",
			want: []Mapping{
				{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: PermRead | PermWrite, Path: "[anon:Go: heap]"},
				{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: PermExec, Path: "[vsyscall]"},
			},
		},
		{name: "bad range", in: "zz-2000 r--p 00000000 00:00 0\n", wantErr: true},
		{name: "no dash", in: "1000 r--p 00000000 00:00 0\n", wantErr: true},
		{name: "empty range", in: "2000-2000 r--p 00000000 00:00 0\n", wantErr: true},
		{name: "reversed range", in: "3000-2000 r--p 00000000 00:00 0\n", wantErr: true},
		{name: "bad perms", in: "1000-2000 rwzp 00000000 00:00 0\n", wantErr: true},
		{name: "short perms", in: "1000-2000 rw 00000000 00:00 0\n", wantErr: true},
		{name: "bad dev", in: "1000-2000 r--p 00000000 fe00 0\n", wantErr: true},
		{name: "missing inode", in: "1000-2000 r--p 00000000 00:00\n", wantErr: true},
		{name: "bad inode", in: "1000-2000 r--p 00000000 00:00 x \n", wantErr: true},
		{name: "overflow", in: "10000000000000000-10000000000000001 r--p 0 0:0 0 \n", wantErr: true},
		{name: "blank line", in: "1000-2000 r--p 00000000 00:00 0 \n\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMaps([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseMapsSample(t *testing.T) {
	ms, err := ParseMaps(testdata(t, "maps_cat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 38 {
		t.Fatalf("got %d mappings, want 38", len(ms))
	}
	kinds := map[string]struct{ anon, special, file bool }{}
	for _, m := range ms {
		kinds[m.Path] = struct{ anon, special, file bool }{m.IsAnon(), m.IsSpecial(), m.IsFile()}
	}
	want := map[string]struct{ anon, special, file bool }{
		"":                                    {anon: true},
		"[heap]":                              {special: true},
		"[stack]":                             {special: true},
		"[vdso]":                              {special: true},
		"[vvar]":                              {special: true},
		"[vvar_vclock]":                       {special: true},
		"[vsyscall]":                          {special: true},
		"/usr/bin/cat":                        {file: true},
		"/usr/lib/x86_64-linux-gnu/libc.so.6": {file: true},
	}
	for p, w := range want {
		if got, ok := kinds[p]; !ok || got != w {
			t.Errorf("path %q: got %+v (present %v), want %+v", p, got, ok, w)
		}
	}
	if got := ms[0].Perms.String(); got != "r--p" {
		t.Errorf("first perms %q, want r--p", got)
	}
}

func TestMappingHelpers(t *testing.T) {
	m := Mapping{Start: 0x1000, End: 0x3000, Path: "[anon:buf]"}
	if m.Size() != 0x2000 || !m.IsAnon() || m.IsSpecial() || m.IsFile() {
		t.Fatalf("helpers wrong for %+v", m)
	}
	if got := (PermRead | PermWrite | PermExec | PermShared).String(); got != "rwxs" {
		t.Fatalf("perms %q", got)
	}
}

// checkMaps parses b and validates the invariants of a result.
func checkMaps(tb testing.TB, b []byte) {
	ms, err := ParseMaps(b)
	checkFormatErr(tb, err)
	if err != nil && ms != nil {
		tb.Fatal("result with error")
	}
	for _, m := range ms {
		if m.Start >= m.End || m.Perms > 0xf {
			tb.Fatalf("invalid mapping %+v", m)
		}
	}
}

func FuzzMaps(f *testing.F) {
	f.Add(testdata(f, "maps_cat.txt"))
	f.Add([]byte("7f0000000000-7f0000002000 rw-s 00001000 00:19 4242 /dev/shm/my file (deleted)\n"))
	f.Fuzz(func(t *testing.T, b []byte) { checkMaps(t, b) })
}
