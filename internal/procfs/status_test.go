package procfs

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseStatusSample(t *testing.T) {
	s, err := ParseStatus(testdata(t, "status_cat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStatus{
		Name: "cat", Umask: 0o22, HasUmask: true, State: 'R', Tgid: 8486, Pid: 8486, PPid: 8479,
		NStgid: []int{8486}, NSpid: []int{8486}, NSpgid: []int{8479}, NSsid: []int{1631},
		Threads: 1, SigLimit: 96365,
		CapPrm: 0x1fffeffffff, CapEff: 0x1fffeffffff, CapBnd: 0x1fffeffffff,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}
}

func TestParseStatusKthread(t *testing.T) {
	s, err := ParseStatus(testdata(t, "status_kthreadd.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "kthreadd" || s.Pid != 2 || s.PPid != 0 || s.Groups != nil || s.Threads != 1 {
		t.Fatalf("got %+v", s)
	}
}

// statusLines joins lines with newlines, turning "|" into tabs.
func statusLines(lines ...string) string {
	return strings.ReplaceAll(strings.Join(lines, "\n")+"\n", "|", "\t")
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ProcStatus
		wantErr bool
	}{
		{name: "empty"},
		{
			name: "ids and lists",
			in: statusLines("Name:|my prog ", "State:|t (tracing stop)", "Uid:|1000|1001|1002|1003",
				"Gid:|5|6|7|8", "Groups:|4 24 27 ", "NStgid:|4321|7", "NSpid:|4322|8",
				"SigQ:|3/1024", "SigBlk:|fffffffe7ffbfeff", "SigCgt:|0000000180000000",
				"TracerPid:|99", "NoNewPrivs:|1", "Seccomp:|2", "Seccomp_filters:|3",
				"Speculation_Store_Bypass:|thread vulnerable", "FutureKey:|whatever"),
			want: ProcStatus{
				Name: "my prog ", State: 't', TracerPid: 99,
				Uid: [4]uint32{1000, 1001, 1002, 1003}, Gid: [4]uint32{5, 6, 7, 8},
				Groups: []uint32{4, 24, 27}, NStgid: []int{4321, 7}, NSpid: []int{4322, 8},
				SigQueued: 3, SigLimit: 1024, SigBlk: 0xfffffffe7ffbfeff, SigCgt: 0x180000000,
				NoNewPrivs: true, Seccomp: 2, SeccompFilters: 3,
			},
		},
		{name: "empty groups", in: statusLines("Groups:| "), want: ProcStatus{}},
		{name: "escaped name", in: statusLines(`Name:|a\nb\\c`), want: ProcStatus{Name: `a\nb\\c`}},
		{name: "no colon", in: "Name cat\n", wantErr: true},
		{name: "three uids", in: statusLines("Uid:|0|0|0"), wantErr: true},
		{name: "five gids", in: statusLines("Gid:|0|0|0|0|0"), wantErr: true},
		{name: "bad group", in: statusLines("Groups:|1 x"), wantErr: true},
		{name: "bad umask", in: statusLines("Umask:|0999"), wantErr: true},
		{name: "empty state", in: statusLines("State:|"), wantErr: true},
		{name: "bad SigQ", in: statusLines("SigQ:|3"), wantErr: true},
		{name: "bad mask", in: statusLines("CapEff:|xyz"), wantErr: true},
		{name: "long mask", in: statusLines("SigIgn:|10000000000000000"), wantErr: true},
		{name: "bad pid", in: statusLines("Pid:|-"), wantErr: true},
		{name: "bad NSpid", in: statusLines("NSpid:|1 b"), wantErr: true},
		{name: "bad NoNewPrivs", in: statusLines("NoNewPrivs:|yes"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatus([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func checkStatus(tb testing.TB, b []byte) {
	_, err := ParseStatus(b)
	checkFormatErr(tb, err)
}

func FuzzStatus(f *testing.F) {
	for _, b := range testdataGlob(f, "status_*.txt") {
		f.Add(b)
	}
	f.Add([]byte(statusLines("Groups:|4 24 27 ", "NStgid:|4321|7", "SigQ:|3/1024")))
	f.Fuzz(func(t *testing.T, b []byte) { checkStatus(t, b) })
}
