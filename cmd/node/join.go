package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/node"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// joinOptions are -join's: the members' admin addresses to ask, this
// node's peer address, and whether -groups was given (else the cluster's
// count is taken).
type joinOptions struct {
	admins    []string
	listen    string
	groupsSet bool
}

// joinTimeout bounds the whole join: finding the members, the add in
// every group, and seeing it in force.
const joinTimeout = time.Minute

func parseJoin(join, listen string, groupsSet bool) (joinOptions, error) {
	o := joinOptions{listen: listen, groupsSet: groupsSet}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return o, fmt.Errorf("-listen %q: not host:port", listen)
	}
	for _, a := range strings.Split(join, ",") {
		if a = strings.TrimSpace(a); a == "" {
			return o, fmt.Errorf("-join %q: an empty address", join)
		}
		o.admins = append(o.admins, a)
	}
	return o, nil
}

// joinCluster makes cfg the configuration of a node joining the cluster
// o.admins reach: it asks the members to add this node as a learner in
// every group where it is none yet (none, when it restarts after joining),
// waits until one of them shows it in every group's configuration, and
// fills in cfg.Peers (every member's address) and cfg.InitialMembers
// (the configuration it was added to, in which its store, empty at the
// first start, begins). A node with data that is no member was removed:
// it may not rejoin with that data.
func joinCluster(cfg *node.Config, o joinOptions, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	hc := &http.Client{Timeout: 25 * time.Second}
	id := uint16(cfg.ID)
	m, err := adminapi.GetMembers(ctx, hc, o.admins)
	if err != nil {
		return fmt.Errorf("-join: %w", err)
	}
	if o.groupsSet && cfg.Groups != len(m.Groups) {
		return fmt.Errorf("-join: -groups %d, but the cluster runs %d", cfg.Groups, len(m.Groups))
	}
	cfg.Groups = len(m.Groups)
	var todo []int
	for _, g := range m.Groups {
		mb, ok := g.Member(id)
		switch {
		case !ok:
			todo = append(todo, g.Group)
		case mb.Addr != "" && mb.Addr != o.listen:
			return fmt.Errorf("-join: node %d is a member of group %d at %s, not -listen %s", id, g.Group, mb.Addr, o.listen)
		}
	}
	if len(todo) > 0 && hasData(cfg.DataDir) {
		return fmt.Errorf("-join: node %d is no member of groups %v but -data %s holds a store: a removed node rejoins with an empty data directory (and best a new id)", id, todo, cfg.DataDir)
	}
	if len(todo) > 0 {
		log.Info("asking the cluster to add this node as a learner", "groups", todo, "listen", o.listen)
		ch := adminapi.MemberChange{Op: adminapi.OpAdd, ID: id, Addr: o.listen, Admin: adminAddr(cfg.AdminAddr), Groups: todo}
		if _, err := adminapi.ChangeMembers(ctx, hc, o.admins, cfg.AdminToken, ch); err != nil {
			return fmt.Errorf("-join: adding node %d: %w", id, err)
		}
	}
	// The change is chosen; a member that does not lead may learn it a
	// moment later.
	for {
		if m, err = adminapi.GetMembers(ctx, hc, o.admins); err == nil && namesIn(m, id) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("-join: the members do not show node %d in every group's configuration: %v", id, errors.Join(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	cfg.Peers = map[engine.NodeID]string{cfg.ID: o.listen}
	cfg.InitialMembers = nil
	for _, g := range m.Groups {
		var c engine.Membership
		for _, mb := range g.Members {
			if mb.Addr == "" {
				return fmt.Errorf("-join: group %d's configuration records no address for member %d", g.Group, mb.ID)
			}
			if prev, ok := cfg.Peers[engine.NodeID(mb.ID)]; ok && prev != mb.Addr {
				return fmt.Errorf("-join: member %d is at %s in one group and %s in another", mb.ID, prev, mb.Addr)
			}
			cfg.Peers[engine.NodeID(mb.ID)] = mb.Addr
			if mb.Role == adminapi.RoleVoter {
				c.Voters = append(c.Voters, engine.NodeID(mb.ID))
			} else {
				c.Learners = append(c.Learners, engine.NodeID(mb.ID))
			}
		}
		slices.Sort(c.Voters)
		slices.Sort(c.Learners)
		cfg.InitialMembers = append(cfg.InitialMembers, c)
	}
	log.Info("joined", "members", cfg.Peers, "groups", cfg.Groups)
	if err := cfg.Validate(); err != nil {
		return flagErrors(err)
	}
	return nil
}

// namesIn reports whether every group of m names node id.
func namesIn(m adminapi.Members, id uint16) bool {
	for _, g := range m.Groups {
		if _, ok := g.Member(id); !ok {
			return false
		}
	}
	return len(m.Groups) > 0
}

// hasData reports whether dir exists and holds anything.
func hasData(dir string) bool {
	es, err := os.ReadDir(dir)
	return err == nil && len(es) > 0
}

// adminAddr is the address the admin port answers on, as others reach it:
// a host-less one binds loopback (node.Config.AdminAddr).
func adminAddr(a string) string {
	if strings.HasPrefix(a, ":") {
		return "127.0.0.1" + a
	}
	return a
}
