package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/migrate-dev/migrate/lab"
	"golang.org/x/sys/unix"
)

// pinHosts gives each lab host a share of this machine's CPUs of its own,
// h1 the first half of those this process may run on and h2 the rest, as
// two machines would have: the daemon, the workload and the bare QUIC ends
// of a host then share only its CPUs, and Go sizes GOMAXPROCS to them.
// Without it both hosts' processes run on every CPU, each Go runtime
// sizing itself to all of them. Every thread of each host's init is
// pinned, so what it starts from now on inherits the set; the daemons
// running already are restarted. It returns the sets, for the record.
func (h *harness) pinHosts(ctx context.Context) (string, error) {
	cpus, err := allowedCPUs()
	if err != nil {
		return "", err
	}
	if len(cpus) < 2 {
		return "", fmt.Errorf("--pin needs at least 2 CPUs, this process may run on %d", len(cpus))
	}
	var desc string
	for i, host := range []*lab.Host{h.h1, h.h2} {
		share := cpus[:len(cpus)/2]
		if i == 1 {
			share = cpus[len(cpus)/2:]
		}
		var set unix.CPUSet
		for _, c := range share {
			set.Set(c)
		}
		if err := pinThreads(host.InitPID(), &set); err != nil {
			return "", fmt.Errorf("pin %s: %w", host.Name, err)
		}
		desc += fmt.Sprintf("%s on CPUs %v; ", host.Name, share)
	}
	return desc[:len(desc)-2], h.restartDaemons(ctx)
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() ([]int, error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for c := range 64 * len(all) {
		if all.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// pinThreads sets the CPU affinity of every thread of pid. A second pass
// catches a thread that one not yet pinned made during the first.
func pinThreads(pid int, set *unix.CPUSet) error {
	for range 2 {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil {
				return fmt.Errorf("sched_setaffinity of thread %d of pid %d: %w", tid, pid, err)
			}
		}
	}
	return nil
}
