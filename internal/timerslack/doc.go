// Package timerslack gives every thread of a process a timer slack, for
// the node and the benchmark, and lets the process start children with the
// slack it had before.
//
// Why: on the 2-vCPU virtual machine this project measures on, the Go
// runtime's monitor thread (sysmon) cost a node 18-24% of its CPU. After
// any idle moment a syscall wakes it, and it then polls every 20 µs for a
// millisecond, each poll a nanosleep and two context switches; a follower,
// idle between writes, pays that hundreds of times a second, and so does
// the load generator. A timer may fire up to its thread's slack late, so
// with 1 ms those polls come about once a millisecond (results/README.md's
// performance log has the measurements).
//
// How: slack is per thread and a new thread inherits its creator's, but
// the runtime started sysmon and other threads before main ran. So Set
// sets it on the current thread and re-executes the binary from it (same
// pid, arguments, environment and descriptors; nothing should be open
// yet): every thread of the new image descends from that one. Child
// processes inherit the slack too; WithOriginal starts them with the one
// the process had before Set.
package timerslack
