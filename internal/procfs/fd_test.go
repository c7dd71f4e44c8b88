package procfs

import (
	"reflect"
	"testing"
)

func TestClassifyFD(t *testing.T) {
	tests := []struct {
		target string
		want   FDKind
		str    string
	}{
		{"/tmp/bash_jobs.0/stdout", FDFile, "file"},
		{"/dev/null", FDFile, "file"},
		{"/tmp/a file (deleted)", FDFile, "file"},
		{"/memfd:foo bar (deleted)", FDMemfd, "memfd"},
		{"pipe:[8118]", FDPipe, "pipe"},
		{"socket:[9049]", FDSocket, "socket"},
		{"net:[4026531833]", FDNamespace, "namespace"},
		{"pid_for_children:[4026531836]", FDNamespace, "namespace"},
		{"anon_inode:[eventfd]", FDEventfd, "eventfd"},
		{"anon_inode:[eventpoll]", FDEpoll, "epoll"},
		{"anon_inode:inotify", FDInotify, "inotify"},
		{"anon_inode:[fanotify]", FDFanotify, "fanotify"},
		{"anon_inode:[timerfd]", FDTimerfd, "timerfd"},
		{"anon_inode:[signalfd]", FDSignalfd, "signalfd"},
		{"anon_inode:[userfaultfd]", FDUserfaultfd, "userfaultfd"},
		{"anon_inode:[pidfd]", FDPidfd, "pidfd"},
		{"anon_inode:[io_uring]", FDIOUring, "io_uring"},
		{"anon_inode:[perf_event]", FDPerfEvent, "perf_event"},
		{"anon_inode:bpf-map", FDBPF, "bpf"},
		{"anon_inode:bpf_link", FDBPF, "bpf"},
		{"anon_inode:[something_new]", FDAnonInode, "anon_inode"},
		{"anon_inode:", FDAnonInode, "anon_inode"},
		{"", FDUnknown, "unknown"},
		{"socket:[abc]", FDUnknown, "unknown"},
		{"socket:[]", FDUnknown, "unknown"},
		{"pipe:8118", FDUnknown, "unknown"},
		{"foo:[1]", FDUnknown, "unknown"},
		{"relative/path", FDUnknown, "unknown"},
	}
	for _, tt := range tests {
		got := ClassifyFD(tt.target)
		if got != tt.want || got.String() != tt.str {
			t.Errorf("ClassifyFD(%q) = %v (%d), want %v", tt.target, got, got, tt.str)
		}
	}
	if got := FDKind(200).String(); got != "unknown" {
		t.Errorf("out of range kind: %q", got)
	}
	for k := FDUnknown; k <= FDAnonInode; k++ {
		if k.String() == "" {
			t.Errorf("kind %d has no name", k)
		}
	}
}

// fdinfo samples captured on Linux 6.18.
const (
	fdinfoFile     = "pos:\t5343\nflags:\t0102001\nmnt_id:\t27\nino:\t9979446\n"
	fdinfoEventfd  = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1039\neventfd-count:                5\neventfd-id: 1\neventfd-semaphore: 0\n"
	fdinfoEpoll    = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1039\ntfd:        3 events:       19 data:                3  pos:0 ino:40f sdev:10\n"
	fdinfoInotify  = "pos:\t0\nflags:\t00\nmnt_id:\t17\nino:\t1039\ninotify wd:1 ino:3c4a3 sdev:fe00000 mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a3c4030000000000\n"
	fdinfoTimerfd  = "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1039\nclockid: 1\nticks: 0\nsettime flags: 00\nit_value: (0, 0)\nit_interval: (0, 0)\n"
	fdinfoPidfd    = "pos:\t0\nflags:\t02000002\nmnt_id:\t4\nino:\t6465\nPid:\t6464\nNSpid:\t6464\n"
	fdinfoSignalfd = "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1039\nsigmask:\t0000000000000002\n"
	fdinfoOld      = "pos:\t0\nflags:\t01\nmnt_id:\t16\n"
)

func TestParseFDInfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    FDInfo
		wantErr bool
	}{
		{name: "file", in: fdinfoFile, want: FDInfo{Pos: 5343, Flags: 0o102001, MntID: 27, Ino: 9979446}},
		{name: "eventfd", in: fdinfoEventfd, want: FDInfo{Flags: 0o2000002, MntID: 17, Ino: 1039,
			Extra: []Field{{"eventfd-count", "5"}, {"eventfd-id", "1"}, {"eventfd-semaphore", "0"}}}},
		{name: "epoll", in: fdinfoEpoll, want: FDInfo{Flags: 0o2000002, MntID: 17, Ino: 1039,
			Extra: []Field{{"tfd", "3 events:       19 data:                3  pos:0 ino:40f sdev:10"}}}},
		{name: "inotify", in: fdinfoInotify, want: FDInfo{MntID: 17, Ino: 1039,
			Extra: []Field{{"inotify wd", "1 ino:3c4a3 sdev:fe00000 mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a3c4030000000000"}}}},
		{name: "timerfd", in: fdinfoTimerfd, want: FDInfo{Flags: 2, MntID: 17, Ino: 1039,
			Extra: []Field{{"clockid", "1"}, {"ticks", "0"}, {"settime flags", "00"}, {"it_value", "(0, 0)"}, {"it_interval", "(0, 0)"}}}},
		{name: "pidfd", in: fdinfoPidfd, want: FDInfo{Flags: 0o2000002, MntID: 4, Ino: 6465,
			Extra: []Field{{"Pid", "6464"}, {"NSpid", "6464"}}}},
		{name: "signalfd", in: fdinfoSignalfd, want: FDInfo{Flags: 2, MntID: 17, Ino: 1039,
			Extra: []Field{{"sigmask", "0000000000000002"}}}},
		{name: "no ino", in: fdinfoOld, want: FDInfo{Flags: 1, MntID: 16}},
		{name: "no colon and blank", in: fdinfoOld + "\nodd line\n", want: FDInfo{Flags: 1, MntID: 16,
			Extra: []Field{{"odd line", ""}}}},
		{name: "negative pos", in: "pos:\t-1\nflags:\t0\nmnt_id:\t1\n", want: FDInfo{Pos: -1, MntID: 1}},
		{name: "empty", in: "", wantErr: true},
		{name: "no mnt_id", in: "pos:\t0\nflags:\t02\n", wantErr: true},
		{name: "no pos", in: "flags:\t02\nmnt_id:\t1\n", wantErr: true},
		{name: "non-octal flags", in: "pos:\t0\nflags:\t09\nmnt_id:\t1\n", wantErr: true},
		{name: "wide flags", in: "pos:\t0\nflags:\t077777777777\nmnt_id:\t1\n", wantErr: true},
		{name: "bad pos", in: "pos:\tx\nflags:\t0\nmnt_id:\t1\n", wantErr: true},
		{name: "bad ino", in: fdinfoOld + "ino:\t-5\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFDInfo([]byte(tt.in))
			checkErr(t, err, tt.wantErr)
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFDInfoGet(t *testing.T) {
	fi, err := ParseFDInfo([]byte(fdinfoEventfd))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := fi.Get("eventfd-count"); !ok || v != "5" {
		t.Fatalf("eventfd-count = %q, %v", v, ok)
	}
	if _, ok := fi.Get("pos"); ok {
		t.Fatal("pos is not an extra field")
	}
}

func checkFDInfo(tb testing.TB, b []byte) {
	_, err := ParseFDInfo(b)
	checkFormatErr(tb, err)
}

func FuzzFDInfo(f *testing.F) {
	for _, s := range []string{fdinfoFile, fdinfoEventfd, fdinfoEpoll, fdinfoInotify,
		fdinfoTimerfd, fdinfoPidfd, fdinfoSignalfd, fdinfoOld} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFDInfo(t, b) })
}

func FuzzClassifyFD(f *testing.F) {
	for _, s := range []string{"/dev/null", "pipe:[1]", "anon_inode:[eventfd]", "net:[4026531833]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k := ClassifyFD(s); k > FDAnonInode || k.String() == "" {
			t.Fatalf("ClassifyFD(%q) = %d", s, k)
		}
	})
}
