package faults

// Usage is the schedule syntax in brief, for `bench -h` and the README. The
// package documentation says the same at more length.
const Usage = `A fault schedule is a comma-separated list of KIND[=ARG]@START[+DURATION]:
START is from the start of the measured run; +DURATION heals the fault by
itself after that long (restart a killed node, continue a paused one, lift a
network fault); without it the fault lasts until restart, resume or heal.
Nodes are ids (1, 2, ...) or roles resolved when the event fires.

  kill-leader@10s+5s        kill -9 the leader, restart it from its disk 5s later
  kill-follower@5s          kill -9 a follower (until restart)
  kill=2@5s                 kill -9 node 2
  restart@15s               restart every node killed without +DURATION
  restart=2@15s             restart node 2
  pause-leader@60s+3s       SIGSTOP the leader, SIGCONT 3s later (pause=ID, pause-follower)
  resume@63s                SIGCONT every node paused without +DURATION (resume=ID)
  partition-leader@20s+5s   cut the leader off from all others (also isolate-leader)
  isolate=3@30s+5s          cut node 3 off from all others (also isolate-follower)
  split=minority@10s+5s     minority/majority split, the leader in the minority
  split=majority@10s+5s     minority/majority split, the leader in the majority
  oneway=1>2@10s+5s         drop node 1's messages to node 2 (ids, leader or follower)
  delay=5ms@40s+10s         delay every message between nodes by 5ms
  delay=5ms~2ms@40s+10s     ... plus 0-2ms of random jitter (each at most 1m)
  drop=2%@50s+10s           drop 2% of the messages between nodes
  heal@60s                  lift every network fault given without +DURATION

Example: kill-leader@10s,restart@15s,partition-leader@20s+5s,drop=2%@50s+10s`
