// Package lab makes several hosts on one machine, so that migration between
// hosts can be tested, demonstrated and benchmarked without real machines.
//
// In a nutshell, it works as follows. A lab named NAME keeps its files in
// RunDir/NAME (default /run/migrate-lab/NAME): a state file, a gossip key,
// and one directory per host. It is made of processes only, so that ending
// them ends the lab and nothing is left in the machine's own network or
// mount namespaces:
//
//   - the switch: a process in a network namespace of its own that holds the
//     bridge br0 and one veth per host;
//   - one init per host (h1..hN): PID 1 of new PID, mount, network, UTS and
//     IPC namespaces. It mounts a private /proc, bind-mounts the host's
//     directories onto /run/migrated and /var/lib/migrated (so the daemon
//     and the CLI use their default paths inside the host), reaps every
//     orphan, and starts commands on request: a client connects to the
//     host's control socket (SOCK_SEQPACKET), passes argv, environment,
//     working directory and its stdio descriptors (SCM_RIGHTS), and gets
//     the PID and later the exit status. `lab exec` and the host's migrated
//     are started this way, so they are in every namespace of the host.
//
// Host hK hands out PIDs from (K-1)*PIDRange up, so that a process that
// moves between hosts keeps a PID no other host uses.
//
// Host hK has address 198.18.0.K/24 on its eth0, whose peer is on the
// switch's bridge; there is no default route, so a host reaches the other
// hosts of its lab and nothing else. Labs do not collide: each has its own
// switch namespace, so the same addresses can exist in several labs.
//
// Up records each process in the state file (PID and start time) as soon as
// it exists; Down ends exactly those processes, checked by start time, and
// removes the directory, so it also cleans up after an Up that crashed.
package lab
