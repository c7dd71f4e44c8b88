package main

import (
	"math"
	"slices"
	"strconv"
)

// Stat summarises the repeats of one figure.
type Stat struct {
	Median Float `json:"median"`
	Min    Float `json:"min"`
	Max    Float `json:"max"`
	N      int   `json:"n"`
}

// summarize returns the median, min and max of the values that are not
// NaN (a figure a run could not measure); N is how many there were.
func summarize(vs []float64) Stat {
	var xs []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		nan := Float(math.NaN())
		return Stat{Median: nan, Min: nan, Max: nan}
	}
	slices.Sort(xs)
	n := len(xs)
	med := xs[n/2]
	if n%2 == 0 {
		med = (xs[n/2-1] + xs[n/2]) / 2
	}
	return Stat{Median: Float(med), Min: Float(xs[0]), Max: Float(xs[n-1]), N: n}
}

// Float is a figure that may be NaN (not measured): JSON null.
type Float float64

// MarshalJSON writes NaN and infinities as null.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = Float(v)
	return err
}
