package procfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// testdata returns the contents of testdata/name.
func testdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testdataGlob returns the contents of every testdata file matching pattern
// and fails if there is none.
func testdataGlob(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no testdata matches %q (err %v)", pattern, err)
	}
	var bs [][]byte
	for _, n := range names {
		bs = append(bs, testdata(tb, filepath.Base(n)))
	}
	return bs
}

// checkFormatErr fails unless err is nil or wraps ErrFormat.
func checkFormatErr(tb testing.TB, err error) {
	tb.Helper()
	if err != nil && !errors.Is(err, ErrFormat) {
		tb.Fatalf("error %v does not wrap ErrFormat", err)
	}
}

// checkErr compares an error against whether one was wanted.
func checkErr(tb testing.TB, err error, wantErr bool) {
	tb.Helper()
	switch {
	case wantErr && err == nil:
		tb.Fatal("no error, want one")
	case !wantErr && err != nil:
		tb.Fatalf("error: %v", err)
	}
	checkFormatErr(tb, err)
}

// parsers runs every text parser on b and validates its result; it is the
// shared body of the prefix test.
var parsers = map[string]func(testing.TB, []byte){
	"maps":   checkMaps,
	"smaps":  checkSmaps,
	"stat":   checkStat,
	"status": checkStatus,
	"limits": checkLimits,
	"fdinfo": checkFDInfo,
	"auxv":   checkAuxv,
}

// TestPrefixes feeds every prefix of every sample to every parser: none may
// panic, and each returns an error wrapping ErrFormat or a valid result.
func TestPrefixes(t *testing.T) {
	var samples [][]byte
	for _, p := range []string{"*.txt", "*.bin"} {
		samples = append(samples, testdataGlob(t, p)...)
	}
	for name, check := range parsers {
		t.Run(name, func(t *testing.T) {
			for _, s := range samples {
				for i := range len(s) + 1 {
					check(t, s[:i])
				}
			}
		})
	}
}
