package main

import (
	"encoding/json"
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in            []float64
		med, min, max float64
		n             int
	}{
		{[]float64{3}, 3, 3, 3, 1},
		{[]float64{5, 1, 3}, 3, 1, 5, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 4},
		{[]float64{7, nan, 1}, 4, 1, 7, 2},
		{[]float64{2, 2, 9, 2, 100}, 2, 2, 100, 5},
	} {
		s := summarize(tc.in)
		if float64(s.Median) != tc.med || float64(s.Min) != tc.min || float64(s.Max) != tc.max || s.N != tc.n {
			t.Errorf("summarize(%v) = %+v, want median %v min %v max %v n %d", tc.in, s, tc.med, tc.min, tc.max, tc.n)
		}
	}
	for _, in := range [][]float64{nil, {nan, nan}} {
		s := summarize(in)
		if s.N != 0 || !math.IsNaN(float64(s.Median)) || !math.IsNaN(float64(s.Min)) || !math.IsNaN(float64(s.Max)) {
			t.Errorf("summarize(%v) = %+v, want NaNs and n 0", in, s)
		}
	}
}

func TestSummarizeDoesNotReorder(t *testing.T) {
	in := []float64{3, 1, 2}
	summarize(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("summarize sorted its input: %v", in)
	}
}

// TestFloatJSON: a figure that was not measured is null, and comes back
// as NaN.
func TestFloatJSON(t *testing.T) {
	b, err := json.Marshal(summarize(nil))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"median":null,"min":null,"max":null,"n":0}` {
		t.Fatalf("got %s", b)
	}
	var s Stat
	if err := json.Unmarshal(b, &s); err != nil || !math.IsNaN(float64(s.Median)) {
		t.Fatalf("unmarshal %s = %+v, %v", b, s, err)
	}
	b, _ = json.Marshal(summarize([]float64{1.5, 2}))
	if err := json.Unmarshal(b, &s); err != nil || s.Median != 1.75 || s.N != 2 {
		t.Fatalf("round trip %s = %+v, %v", b, s, err)
	}
}
