package procfs

import (
	"strings"
	"testing"
)

func TestParseLimitsSample(t *testing.T) {
	rl, err := ParseLimits(testdata(t, "limits_cat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]Rlimit{
		0:  {RlimInfinity, RlimInfinity}, // RLIMIT_CPU
		3:  {8388608, RlimInfinity},      // RLIMIT_STACK
		4:  {0, RlimInfinity},            // RLIMIT_CORE
		6:  {96365, 96365},               // RLIMIT_NPROC
		7:  {20000, 20000},               // RLIMIT_NOFILE
		12: {819200, 819200},             // RLIMIT_MSGQUEUE
		13: {0, 0},                       // RLIMIT_NICE, no units
		15: {RlimInfinity, RlimInfinity}, // RLIMIT_RTTIME
	}
	for i, w := range want {
		if rl[i] != w {
			t.Errorf("limit %d (%s) = %+v, want %+v", i, limitNames[i], rl[i], w)
		}
	}
}

func TestParseLimits(t *testing.T) {
	sample := string(testdata(t, "limits_cat.txt"))
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "sample", in: sample},
		{name: "no header", in: sample[strings.IndexByte(sample, '\n')+1:]},
		{name: "empty", in: "", wantErr: true},
		{name: "missing row", in: strings.Replace(sample, "Max open files", "Max open filez", 1), wantErr: true},
		{name: "duplicate row", in: sample + "Max cpu time 1 2 seconds\n", wantErr: true},
		{name: "bad value", in: strings.Replace(sample, "20000 ", "2000x ", 1), wantErr: true},
		{name: "one value", in: strings.Replace(sample, "Max core file size        0                    unlimited            bytes", "Max core file size 0", 1), wantErr: true},
		{name: "extra column", in: strings.Replace(sample, "819200               bytes", "819200 bytes more", 1), wantErr: true},
		{name: "negative", in: strings.Replace(sample, "20000 ", "-1 ", 1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLimits([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
		})
	}
}

func checkLimits(tb testing.TB, b []byte) {
	_, err := ParseLimits(b)
	checkFormatErr(tb, err)
}

func FuzzLimits(f *testing.F) {
	f.Add(testdata(f, "limits_cat.txt"))
	f.Fuzz(func(t *testing.T, b []byte) { checkLimits(t, b) })
}
