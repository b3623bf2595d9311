package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpaxos/mpaxos/faults"
)

// TestNetnsPid: only names of the netns clusters' form carry a pid.
func TestNetnsPid(t *testing.T) {
	for _, c := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{"mpx123a", 123, true}, {"mpx123a-n1", 123, true}, {"mpx123bn15", 123, true},
		{"mpx123", 0, false}, {"mpxa", 0, false}, {"mpx", 0, false}, {"eth0", 0, false},
		{"mpx0a", 0, false}, {"mpx12-3a", 0, false},
	} {
		pid, ok := netnsPid(c.name)
		if ok != c.ok || (ok && pid != c.pid) {
			t.Errorf("netnsPid(%q) = %d, %v; want %d, %v", c.name, pid, ok, c.pid, c.ok)
		}
	}
}

// TestRuleset: a healthy spec leaves no table; every fault becomes its
// rule, after the rules that let the bench host and ARP through.
func TestRuleset(t *testing.T) {
	h := &hostNet{subnet: [3]byte{10, 213, 7}}
	healthy := h.ruleset(faults.NetSpec{})
	if healthy != "table netdev mpx\ndelete table netdev mpx\n" {
		t.Errorf("healthy ruleset:\n%s", healthy)
	}
	got := h.ruleset(faults.NetSpec{Block: []faults.NodeID{2, 3}, Loss: 0.05, Dup: 0.1, ClientCut: true, Blackhole: true})
	for _, want := range []string{
		"hook ingress device \"eth0\"", "hook egress device \"eth0\"",
		"meta protocol arp accept", "ip saddr 10.213.7.1 accept", "ip daddr 10.213.7.1 accept",
		"ip daddr { 10.213.7.12, 10.213.7.13 } drop",
		"ip saddr 10.213.7.2 drop", "ip daddr 10.213.7.2 drop",
		"numgen random mod 10000 < 500 drop", `numgen random mod 10000 < 1000 dup to "eth0"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
	// numgen's threshold stops short of its modulus: every packet is a
	// rule without it (nft refuses "< 10000").
	all := h.ruleset(faults.NetSpec{Loss: 1, Dup: 1})
	if strings.Contains(all, "numgen") || !strings.Contains(all, "    drop\n") || !strings.Contains(all, "    dup to \"eth0\"\n") {
		t.Errorf("loss and dup of every packet:\n%s", all)
	}
	// Control passes before any drop.
	if strings.Index(got, "10.213.7.1 accept") > strings.Index(got, "    drop") {
		t.Errorf("a drop comes before the bench host's accept:\n%s", got)
	}
}

// netnsHosts sets up netns hosts for ids, removed at the end of the test,
// or skips the test where they cannot be made.
func netnsHosts(t *testing.T, ids ...uint64) *hostNet {
	t.Helper()
	if err := NetnsUsable(); err != nil {
		t.Skipf("netns hosts unavailable: %v", err)
	}
	h, err := setupHostNet(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.close()
		for _, n := range NetnsOf(os.Getpid()) {
			if strings.HasPrefix(n, h.name) {
				t.Errorf("left after close: %s", n)
			}
		}
	})
	return h
}

// nsFD opens namespace ns for inNetns.
func nsFD(t *testing.T, ns string) int {
	t.Helper()
	fd, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestKernelFaults applies each kernel fault to node 1 of two namespaced
// hosts and checks what TCP and UDP see: a cut or blackhole makes a dial
// hang (no reset, even to a closed port), a client cut spares the peers,
// loss and duplication act on datagrams, tbf and the flapper act on the
// link, and healing restores all of it.
func TestKernelFaults(t *testing.T) {
	h := netnsHosts(t, 1, 2)
	ctx := context.Background()
	n1, n2 := nsFD(t, h.nodeNS(1)), nsFD(t, h.nodeNS(2))
	var ln net.Listener
	if err := inNetns(n1, func() (err error) { ln, err = net.Listen("tcp", h.nodeIP(1)+":7001"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	const hang = 300 * time.Millisecond
	dial := func(fd int, addr string) error {
		return inNetns(fd, func() error {
			c, err := net.DialTimeout("tcp", addr, hang)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	open, closed := h.nodeIP(1)+":7001", h.nodeIP(1)+":7999"
	expect := func(what string, fd int, addr string, want string) {
		t.Helper()
		err := dial(fd, addr)
		var ne net.Error
		got := "ok"
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			got = "refused"
		case errors.As(err, &ne) && ne.Timeout():
			got = "hangs"
		case err != nil:
			got = err.Error()
		}
		if got != want {
			t.Errorf("%s: dial %s: %s, want %s", what, addr, got, want)
		}
	}
	set := func(spec faults.NetSpec) {
		t.Helper()
		if err := h.apply(ctx, 1, spec); err != nil {
			t.Fatal(err)
		}
	}
	expect("healthy", h.clientNS, open, "ok")
	expect("healthy", n2, closed, "refused")

	set(faults.NetSpec{ClientCut: true})
	expect("clientcut", h.clientNS, open, "hangs")
	expect("clientcut, a peer", n2, open, "ok")

	set(faults.NetSpec{Blackhole: true})
	expect("blackhole, a peer", n2, open, "hangs")
	expect("blackhole, a closed port: no reset", n2, closed, "hangs")
	expect("blackhole, the clients", h.clientNS, open, "hangs")
	// The bench host's control traffic still passes.
	if c, err := net.DialTimeout("tcp", open, time.Second); err != nil {
		t.Errorf("blackhole: the bench host cannot reach the node: %v", err)
	} else {
		c.Close()
	}

	set(faults.NetSpec{Block: []faults.NodeID{2}})
	expect("block 1>2, the peer", n2, open, "hangs")
	expect("block 1>2, the clients", h.clientNS, open, "ok")

	set(faults.NetSpec{})
	expect("healed", n2, open, "ok")
	expect("healed", h.clientNS, open, "ok")

	const sent = 50
	set(faults.NetSpec{Dup: 1})
	if got := datagrams(t, h, n1, sent); got < 2*sent {
		t.Errorf("dup 100%%: %d of %d datagrams arrived, want at least twice as many", got, sent)
	}
	set(faults.NetSpec{Loss: 1})
	if got := datagrams(t, h, n1, sent); got != 0 {
		t.Errorf("loss 100%%: %d of %d datagrams arrived", got, sent)
	}
	set(faults.NetSpec{})
	if got := datagrams(t, h, n1, sent); got != sent {
		t.Errorf("healed: %d of %d datagrams arrived", got, sent)
	}

	set(faults.NetSpec{Rate: 1_000_000})
	for _, q := range []string{qdisc(t, "ip", "netns", "exec", h.nodeNS(1), "tc", "qdisc", "show", "dev", "eth0"),
		qdisc(t, "tc", "qdisc", "show", "dev", h.nodeVeth(1))} {
		if !strings.Contains(q, "tbf") || !strings.Contains(q, "1Mbit") {
			t.Errorf("bandwidth 1mbit: qdisc %q", q)
		}
	}
	set(faults.NetSpec{})
	if q := qdisc(t, "tc", "qdisc", "show", "dev", h.nodeVeth(1)); strings.Contains(q, "tbf") {
		t.Errorf("healed: qdisc %q", q)
	}

	set(faults.NetSpec{Flap: 100 * time.Millisecond})
	sawDown := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !sawDown; time.Sleep(20 * time.Millisecond) {
		sawDown = !strings.Contains(qdisc(t, "ip", "-n", h.nodeNS(1), "link", "show", "eth0"), "state UP")
	}
	if !sawDown {
		t.Error("flap 100ms: the link never went down in 2s")
	}
	set(faults.NetSpec{})
	if l := qdisc(t, "ip", "-n", h.nodeNS(1), "link", "show", "eth0"); !strings.Contains(l, "UP") {
		t.Errorf("flap stopped: link %q", l)
	}
	// The link's routes come back with it.
	ok := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(50 * time.Millisecond) {
		ok = dial(h.clientNS, open) == nil
	}
	if !ok {
		t.Error("flap stopped: the clients cannot reach the node again")
	}
}

// datagrams sends n UDP datagrams from node 1 (namespace fd n1) to the
// clients' namespace and returns how many arrived.
func datagrams(t *testing.T, h *hostNet, n1, n int) int {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(h.clientNS, func() (err error) { pc, err = net.ListenPacket("udp", h.clientIP()+":0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var out net.Conn
	if err := inNetns(n1, func() (err error) { out, err = net.Dial("udp", pc.LocalAddr().String()); return err }); err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for range n {
		if _, err := out.Write([]byte("datagram")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // no burst: the receive buffer never overflows
	}
	got := 0
	buf := make([]byte, 64)
	for {
		_ = pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return got
		}
		got++
	}
}

// qdisc runs a show command and returns its output.
func qdisc(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := execOutput(name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

// TestRemoveStaleNetns: a namespace and a bridge named for a dead bench
// are removed; those of a live one are kept.
func TestRemoveStaleNetns(t *testing.T) {
	if err := NetnsUsable(); err != nil {
		t.Skipf("netns hosts unavailable: %v", err)
	}
	ctx := context.Background()
	dead := deadPid(t)
	for _, args := range [][]string{
		{"netns", "add", netnsPrefixFor(dead) + "-c"}, {"link", "add", netnsPrefixFor(dead), "type", "bridge"},
		{"netns", "add", netnsPrefixFor(os.Getpid()) + "-t"},
	} {
		if err := ipCmds(ctx, args); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = RemoveNetnsOf(ctx, dead)
		_, _ = RemoveNetnsOf(ctx, os.Getpid())
	})
	removed, err := RemoveStaleNetns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if left := NetnsOf(dead); len(left) > 0 {
		t.Errorf("a dead bench's objects left: %v (removed %v)", left, removed)
	}
	if !strings.Contains(strings.Join(NetnsOf(os.Getpid()), " "), netnsPrefixFor(os.Getpid())+"-t") {
		t.Errorf("the live bench's namespace was removed (removed %v)", removed)
	}
}

// netnsPrefixFor is a name of the form the netns clusters of pid use.
func netnsPrefixFor(pid int) string { return netnsPrefix + itoa(pid) + "z" }

// deadPid is a pid that surely no longer runs: a child that has exited
// and been waited for.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	return cmd.Process.Pid
}

func itoa(i int) string { return strconv.Itoa(i) }

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// TestConfigValidateHosts: hosts must be named, netns hosts take no TLS,
// and the hook layer may be asked for anywhere (bench -fault-layer hook
// on loopback is what it does anyway).
func TestConfigValidateHosts(t *testing.T) {
	for _, c := range []struct {
		hosts string
		tls   bool
		hook  bool
		want  string
	}{
		{"moon", false, false, "hosts must be"}, {HostsNetns, true, false, "TLS"}, {HostsLocal, false, true, ""},
		{HostsNetns, false, true, ""}, {"", false, false, ""},
	} {
		cfg := DefaultConfig()
		cfg.Hosts, cfg.TLS, cfg.HookFaults = c.hosts, c.tls, c.hook
		err := cfg.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}
