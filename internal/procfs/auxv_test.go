package procfs

import (
	"encoding/binary"
	"reflect"
	"testing"
)

// auxvBytes encodes pairs as /proc/PID/auxv does.
func auxvBytes(pairs ...uint64) []byte {
	var b []byte
	for _, v := range pairs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

func TestParseAuxv(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []AuxvEntry
		wantErr bool
	}{
		{name: "empty"},
		{name: "only AT_NULL", in: auxvBytes(AtNull, 0)},
		{name: "two", in: auxvBytes(AtPagesz, 4096, AtEntry, 0x401000, AtNull, 0),
			want: []AuxvEntry{{AtPagesz, 4096}, {AtEntry, 0x401000}}},
		{name: "trailing after AT_NULL", in: auxvBytes(AtHwcap, 1, AtNull, 0, 7, 7),
			want: []AuxvEntry{{AtHwcap, 1}}},
		{name: "no AT_NULL", in: auxvBytes(AtPagesz, 4096), wantErr: true},
		{name: "odd length", in: auxvBytes(AtPagesz, 4096, AtNull, 0)[:31], wantErr: true},
		{name: "half entry", in: auxvBytes(AtNull), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAuxv(tt.in)
			checkErr(t, err, tt.wantErr)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseAuxvSample(t *testing.T) {
	es, err := ParseAuxv(testdata(t, "auxv_cat.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := LookupAuxv(es, AtPagesz); !ok || v != 4096 {
		t.Fatalf("AT_PAGESZ = %d, %v", v, ok)
	}
	if _, ok := LookupAuxv(es, AtSysinfoEhdr); !ok {
		t.Fatal("no AT_SYSINFO_EHDR")
	}
	if _, ok := LookupAuxv(es, 9999); ok {
		t.Fatal("found a missing type")
	}
}

func checkAuxv(tb testing.TB, b []byte) {
	es, err := ParseAuxv(b)
	checkFormatErr(tb, err)
	if err != nil && es != nil {
		tb.Fatal("result with error")
	}
	if err == nil && len(b)%auxvEntrySize != 0 {
		tb.Fatalf("accepted length %d", len(b))
	}
	for _, e := range es {
		if e.Type == AtNull {
			tb.Fatal("AT_NULL in result")
		}
	}
}

func FuzzAuxv(f *testing.F) {
	f.Add(testdata(f, "auxv_cat.bin"))
	f.Add(auxvBytes(AtPagesz, 4096, AtNull, 0))
	f.Fuzz(func(t *testing.T, b []byte) { checkAuxv(t, b) })
}
