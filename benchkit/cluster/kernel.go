package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/faults"
)

// The kernel layer: a node's faults.NetSpec becomes, in its namespace,
//
//   - one nftables table, netdev family, on eth0 (rebuilt whole, in one
//     transaction, at every change): blocks, client cuts, blackholes and
//     loss drop packets at the node's link, where a drop is silent to both
//     ends (no reset, no error to the sender: the segment just never
//     arrives, and TCP retransmits); duplication is `dup to "eth0"` on
//     egress;
//   - tc tbf on both ends of the node's veth for a bandwidth limit;
//   - ip link down/up of the node's eth0 for a flap;
//   - tc netem for delay and jitter when the kernel has netem; without it
//     delay and jitter go through the node's in-process hook (Layer says
//     which).
//
// ARP and the bench host's own traffic (admin, monitor, fault control,
// from 10.213.S.1) always pass, so a blackholed node is still watched
// and healed.

// Layer names the layer that injects network fault kind k on this
// cluster: "kernel" or "hook" (faults.Layered).
func (f *Faulter) Layer(k faults.Kind) string {
	if f.kernel == nil || (k == faults.Delay && !f.kernel.netem) {
		return "hook"
	}
	return "kernel"
}

var _ faults.Layered = (*Faulter)(nil)

// setKernel applies spec to node id: the part the kernel does, and the
// delay through the hook when the kernel has no netem.
func (f *Faulter) setKernel(ctx context.Context, id faults.NodeID, spec faults.NetSpec) error {
	h := f.kernel
	if err := h.apply(ctx, uint64(id), spec); err != nil {
		return err
	}
	hook := faults.NetSpec{}
	if !h.netem {
		hook.Delay, hook.Jitter = spec.Delay, spec.Jitter
	}
	// A restarted node's hook starts healthy: only a healthy hook that
	// stays healthy needs no call.
	if hook.IsZero() && f.hooked[id].IsZero() {
		return nil
	}
	a, _ := f.admin(id)
	if err := f.net.SetFaults(ctx, a, hook); err != nil {
		return err
	}
	f.hooked[id] = hook
	return nil
}

// apply makes node id's namespace match spec.
func (h *hostNet) apply(ctx context.Context, id uint64, spec faults.NetSpec) error {
	ns := h.nodeNS(id)
	if err := runIn(ctx, []byte(h.ruleset(spec)), "ip", "netns", "exec", ns, "nft", "-f", "-"); err != nil {
		return err
	}
	if err := h.shape(ctx, id, spec); err != nil {
		return err
	}
	h.flap(id, spec.Flap)
	return nil
}

// ruleset is the nft script that replaces the node's table with spec's
// rules (creating it first, so the delete always succeeds).
func (h *hostNet) ruleset(spec faults.NetSpec) string {
	var b strings.Builder
	b.WriteString("table netdev mpx\ndelete table netdev mpx\n")
	var in, out []string
	if spec.Blackhole {
		in, out = append(in, "drop"), append(out, "drop")
	}
	if spec.ClientCut {
		in = append(in, "ip saddr "+h.clientIP()+" drop")
		out = append(out, "ip daddr "+h.clientIP()+" drop")
	}
	if len(spec.Block) > 0 {
		ips := make([]string, len(spec.Block))
		for i, p := range spec.Block {
			ips[i] = h.nodeIP(uint64(p))
		}
		out = append(out, "ip daddr { "+strings.Join(ips, ", ")+" } drop")
	}
	if m, ok := random(spec.Loss); ok {
		out = append(out, m+"drop")
	}
	if m, ok := random(spec.Dup); ok {
		out = append(out, m+`dup to "eth0"`)
	}
	if len(in)+len(out) == 0 {
		return b.String()
	}
	// The bench host and ARP first: control is never cut.
	pass := []string{"meta protocol arp accept"}
	b.WriteString("table netdev mpx {\n")
	fmt.Fprintf(&b, "  chain in {\n    type filter hook ingress device \"eth0\" priority 0; policy accept;\n")
	for _, r := range append(append(pass, "ip saddr "+h.hostIP()+" accept"), in...) {
		b.WriteString("    " + r + "\n")
	}
	b.WriteString("  }\n")
	fmt.Fprintf(&b, "  chain out {\n    type filter hook egress device \"eth0\" priority 0; policy accept;\n")
	for _, r := range append(append(pass, "ip daddr "+h.hostIP()+" accept"), out...) {
		b.WriteString("    " + r + "\n")
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

// random is the match of a rule that acts on fraction f of the packets,
// to 1/10000, and whether the rule acts at all: every packet needs no
// match (numgen's threshold cannot reach the modulus).
func random(f float64) (string, bool) {
	switch n := int(f*10000 + 0.5); {
	case n <= 0:
		return "", false
	case n >= 10000:
		return "", true
	default:
		return fmt.Sprintf("numgen random mod 10000 < %d ", n), true
	}
}

// shape sets the root qdisc of both ends of node id's veth: netem for
// delay, jitter and rate when the kernel has it, tbf for a rate without,
// none for a healthy link.
func (h *hostNet) shape(ctx context.Context, id uint64, spec faults.NetSpec) error {
	var q []string
	switch {
	case h.netem && (spec.Delay > 0 || spec.Jitter > 0 || spec.Rate > 0):
		q = []string{"netem", "delay", usec(spec.Delay), usec(spec.Jitter)}
		if spec.Rate > 0 {
			q = append(q, "rate", strconv.FormatUint(spec.Rate, 10)+"bit")
		}
	case spec.Rate > 0:
		// A burst of 10 ms at the rate, at least two full frames; at
		// most 100 ms of queue, then tail drop.
		burst := max(spec.Rate/8/100, 2*1514)
		q = []string{"tbf", "rate", strconv.FormatUint(spec.Rate, 10) + "bit", "burst", strconv.FormatUint(burst, 10), "latency", "100ms"}
	}
	ends := [][]string{{"ip", "netns", "exec", h.nodeNS(id), "tc"}, {"tc"}}
	devs := []string{"eth0", h.nodeVeth(id)}
	for i, tc := range ends {
		if q == nil {
			// No such qdisc is fine: the link was healthy already.
			_ = run(ctx, tc[0], append(tc[1:], "qdisc", "del", "dev", devs[i], "root")...)
			continue
		}
		args := append(append(tc[1:], "qdisc", "replace", "dev", devs[i], "root"), q...)
		if err := run(ctx, tc[0], args...); err != nil {
			return err
		}
	}
	return nil
}

func usec(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + "us" }

// flap starts, changes or stops node id's flapping: period 0 stops it
// and leaves the link up.
func (h *hostNet) flap(id uint64, period time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.mu.flaps[id]
	if cur != nil && cur.period == period {
		return
	}
	if cur != nil {
		cur.stop()
		delete(h.mu.flaps, id)
	}
	if period > 0 {
		h.mu.flaps[id] = startFlapper(h.nodeNS(id), period)
	}
}

// flapper takes a namespace's eth0 down and up in turn until stopped.
type flapper struct {
	period time.Duration
	quit   chan struct{}
	done   chan struct{}
}

func startFlapper(ns string, period time.Duration) *flapper {
	f := &flapper{period: period, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		ctx := context.Background()
		// Every path out leaves the link up.
		defer func() { _ = ipCmds(ctx, []string{"-n", ns, "link", "set", "eth0", "up"}) }()
		t := time.NewTicker(period)
		defer t.Stop()
		up := false
		for {
			state := map[bool]string{true: "up", false: "down"}[up]
			_ = ipCmds(ctx, []string{"-n", ns, "link", "set", "eth0", state})
			select {
			case <-f.quit:
				return
			case <-t.C:
				up = !up
			}
		}
	}()
	return f
}

// stop ends the flapping with the link up, and waits for that.
func (f *flapper) stop() {
	close(f.quit)
	<-f.done
}
