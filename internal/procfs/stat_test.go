package procfs

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// statTail returns the fields after comm in the sample stat line.
func statTail(tb testing.TB) string {
	_, tail, ok := bytes.Cut(testdata(tb, "stat_cat.txt"), []byte(") "))
	if !ok {
		tb.Fatal("bad sample")
	}
	return string(tail)
}

func TestParseStatSample(t *testing.T) {
	s, err := ParseStat(testdata(t, "stat_cat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(testdata(t, "stat_cat.txt")))
	if s.Comm != "cat" || s.State != 'R' || s.NumThreads != 1 || s.Priority != 20 {
		t.Errorf("got %+v", s)
	}
	// Check both ends and a few fields by position (1-based numbers).
	checks := []struct {
		n   int
		got any
	}{
		{1, s.PID}, {4, s.PPID}, {5, s.Pgrp}, {6, s.Session}, {7, s.TTYNr},
		{8, s.TPGID}, {9, s.Flags}, {10, s.MinFlt}, {14, s.UTime}, {22, s.StartTime},
		{23, s.VSize}, {24, s.RSS}, {25, s.RSSLim}, {26, s.StartCode}, {27, s.EndCode},
		{28, s.StartStack}, {38, s.ExitSignal}, {39, s.Processor}, {40, s.RTPriority},
		{41, s.Policy}, {45, s.StartData}, {46, s.EndData}, {47, s.StartBrk},
		{48, s.ArgStart}, {49, s.ArgEnd}, {50, s.EnvStart}, {51, s.EnvEnd}, {52, s.ExitCode},
	}
	for _, c := range checks {
		if got := fmtAny(c.got); got != fields[c.n-1] {
			t.Errorf("field %d = %s, want %s", c.n, got, fields[c.n-1])
		}
	}
}

func TestParseStat(t *testing.T) {
	tail := statTail(t)
	tests := []struct {
		name     string
		in       string
		wantComm string
		wantErr  bool
	}{
		{name: "paren and space", in: "123 ((a) b)) " + tail, wantComm: "(a) b)"},
		{name: "close paren only", in: "123 ()) " + tail, wantComm: ")"},
		{name: "empty comm", in: "123 () " + tail, wantComm: ""},
		{name: "newline in comm", in: "123 (a\nb) " + tail, wantComm: "a\nb"},
		{name: "fake fields in comm", in: "123 (x) R 1 2 3) " + tail, wantComm: "x) R 1 2 3"},
		{name: "extra field ignored", in: "123 (x) " + strings.TrimSuffix(tail, "\n") + " 99\n", wantComm: "x"},
		{name: "kthreadd", in: string(testdata(t, "stat_kthreadd.txt")), wantComm: "kthreadd"},
		{name: "empty", in: "", wantErr: true},
		{name: "no paren", in: "123 cat R 1", wantErr: true},
		{name: "reversed parens", in: "123 )cat( R 1", wantErr: true},
		{name: "bad pid", in: "x (cat) " + tail, wantErr: true},
		{name: "no space after comm", in: "1 (cat)R" + tail, wantErr: true},
		{name: "short", in: "1 (cat) R 1 2 3\n", wantErr: true},
		{name: "bad state", in: statWith(t, 3, "RR"), wantErr: true},
		{name: "bad number", in: statWith(t, 4, "x"), wantErr: true},
		{name: "negative unsigned", in: statWith(t, 9, "-1"), wantErr: true},
		{name: "bad last field", in: statWith(t, 52, "0x"), wantErr: true},
		{name: "double space", in: statWith(t, 30, " 0"), wantErr: true},
		{name: "negative signed", in: statWith(t, 52, "-1"), wantComm: "cat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if err == nil && got.Comm != tt.wantComm {
				t.Fatalf("comm %q, want %q", got.Comm, tt.wantComm)
			}
		})
	}
}

// statWith returns the sample stat line with field n (1-based) set to v.
func statWith(tb testing.TB, n int, v string) string {
	fields := strings.Split(strings.TrimSuffix(string(testdata(tb, "stat_cat.txt")), "\n"), " ")
	fields[n-1] = v
	return strings.Join(fields, " ") + "\n"
}

// fmtAny formats an int64 or uint64 field.
func fmtAny(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	}
	return "?"
}

func checkStat(tb testing.TB, b []byte) {
	s, err := ParseStat(b)
	checkFormatErr(tb, err)
	if err == nil && s.State == 0 {
		tb.Fatalf("no state in %+v", s)
	}
}

func FuzzStat(f *testing.F) {
	f.Add(testdata(f, "stat_cat.txt"))
	f.Add(testdata(f, "stat_kthreadd.txt"))
	f.Add([]byte("123 ((a) b)) " + statTail(f)))
	f.Fuzz(func(t *testing.T, b []byte) { checkStat(t, b) })
}
