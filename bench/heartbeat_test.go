package main

import "testing"

func TestLastBeatNS(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 0},
		{"1 100", 0}, // no whole line yet
		{"1 100\n", 100},
		{"1 100\n2 200\n", 200},
		{"1 100\n2 200\n3 3", 200}, // torn last line
		{"00\n2 200\n", 200},       // torn first line of a tail
		{"garbage\n", 0},
	} {
		if got := lastBeatNS([]byte(tc.in)); got != tc.want {
			t.Errorf("lastBeatNS(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
