package procfs

import (
	"reflect"
	"testing"
)

const smapsHeap = `5646e190b000-5646e192c000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
KernelPageSize:        4 kB
Rss:                  16 kB
Anonymous:            16 kB
Swap:                  4 kB
Locked:                0 kB
THPeligible:           1
ProtectionKey:         0
VmFlags: rd wr mr mw me ac zz 
`

func TestParseSmaps(t *testing.T) {
	heap := SmapsEntry{
		Mapping: Mapping{Start: 0x5646e190b000, End: 0x5646e192c000,
			Perms: PermRead | PermWrite, Path: "[heap]"},
		SizeKB: 132, RssKB: 16, AnonymousKB: 16, SwapKB: 4, THPEligible: true,
		VMFlags:      VMRead | VMWrite | VMMayRead | VMMayWrite | VMMayExec | VMAccount,
		UnknownFlags: []string{"zz"},
	}
	tests := []struct {
		name    string
		in      string
		want    []SmapsEntry
		wantErr bool
	}{
		{name: "empty"},
		{name: "heap", in: smapsHeap, want: []SmapsEntry{heap}},
		{name: "header only", in: "1000-2000 r--p 00000000 00:00 0 \n",
			want: []SmapsEntry{{Mapping: Mapping{Start: 0x1000, End: 0x2000, Perms: PermRead}}}},
		{name: "key first", in: "Rss: 4 kB\n", wantErr: true},
		{name: "bad size", in: "1000-2000 r--p 00000000 00:00 0 \nRss: 4 MB\n", wantErr: true},
		{name: "bad number", in: "1000-2000 r--p 00000000 00:00 0 \nRss: x kB\n", wantErr: true},
		{name: "bad THPeligible", in: "1000-2000 r--p 00000000 00:00 0 \nTHPeligible: 2\n", wantErr: true},
		{name: "bad header", in: smapsHeap + "nonsense line\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSmaps([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseSmapsSample(t *testing.T) {
	es, err := ParseSmaps(testdata(t, "smaps_cat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 14 {
		t.Fatalf("got %d entries, want 14", len(es))
	}
	byPath := map[string]SmapsEntry{}
	for _, e := range es {
		byPath[e.Path] = e
		if e.UnknownFlags != nil {
			t.Errorf("%s: unknown flags %q", e.Path, e.UnknownFlags)
		}
	}
	stack := byPath["[stack]"]
	if !stack.VMFlags.GrowsDown() || stack.VMFlags.Shared() || stack.RssKB != 12 || stack.AnonymousKB != 12 {
		t.Errorf("stack: %+v", stack)
	}
	gconv := byPath["/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache"]
	if !gconv.VMFlags.Shared() || gconv.VMFlags.GrowsDown() || gconv.RssKB != 28 {
		t.Errorf("gconv: %+v", gconv)
	}
	if got := byPath["[vvar]"].VMFlags.String(); got != "rd mr pf io de dd" {
		t.Errorf("vvar flags %q", got)
	}
	if got := byPath["[vsyscall]"].VMFlags; got != VMExec {
		t.Errorf("vsyscall flags %v", got)
	}
}

func TestVMFlagsString(t *testing.T) {
	if len(vmFlagCodes) != 39 || VMDroppable != 1<<38 {
		t.Fatalf("code table (%d) and constants (%#x) disagree", len(vmFlagCodes), uint64(VMDroppable))
	}
	all := VMFlags(1<<len(vmFlagCodes) - 1)
	var e SmapsEntry
	e.setVMFlags(all.String())
	if e.VMFlags != all || e.UnknownFlags != nil {
		t.Fatalf("round trip: %v, unknown %q", e.VMFlags, e.UnknownFlags)
	}
	if got := (VMGrowsDown | 1<<63).String(); got != "gd" {
		t.Fatalf("got %q", got)
	}
}

func checkSmaps(tb testing.TB, b []byte) {
	es, err := ParseSmaps(b)
	checkFormatErr(tb, err)
	if err != nil && es != nil {
		tb.Fatal("result with error")
	}
	for _, e := range es {
		if e.Start >= e.End || e.VMFlags >= 1<<len(vmFlagCodes) {
			tb.Fatalf("invalid entry %+v", e)
		}
	}
}

func FuzzSmaps(f *testing.F) {
	f.Add(testdata(f, "smaps_cat.txt"))
	f.Add([]byte(smapsHeap))
	f.Fuzz(func(t *testing.T, b []byte) { checkSmaps(t, b) })
}
