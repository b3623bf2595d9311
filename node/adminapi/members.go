package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Members is what GET /members returns, and POST /members on success:
// every group's configuration as this node knows it.
type Members struct {
	Node uint16 `json:"node"`
	// Removed: this node is a member of no group's configuration any more;
	// it serves nothing.
	Removed bool           `json:"removed"`
	Groups  []GroupMembers `json:"groups"`
}

// GroupMembers is one group's configuration on a node.
type GroupMembers struct {
	Group  int    `json:"group"`
	Leader uint16 `json:"leader"` // this node's leader hint; 0 unknown
	// Slot is the slot whose change put the configuration in force; 0 for
	// the one the group started with (or one this node has not seen
	// chosen by a change since it started from a snapshot's).
	Slot    uint64   `json:"slot"`
	Members []Member `json:"members"`
	// Pending is, on the group's leader, the configuration a change in
	// flight leads to; empty when none is.
	Pending []Member `json:"pending"`
}

// The roles of a Member.
const (
	RoleVoter   = "voter"
	RoleLearner = "learner"
)

// Member is one member of a configuration.
type Member struct {
	ID   uint16 `json:"id"`
	Role string `json:"role"` // RoleVoter or RoleLearner
	// Addr is the member's peer address, Admin its admin address, as far
	// as this node knows them (empty: unknown).
	Addr  string `json:"addr"`
	Admin string `json:"admin"`
	// Match is, on the group's leader, the last slot the member
	// acknowledged; 0 elsewhere.
	Match uint64 `json:"match"`
}

// Group returns the configuration of group g, false if m has none.
func (m Members) Group(g int) (GroupMembers, bool) {
	for _, gm := range m.Groups {
		if gm.Group == g {
			return gm, true
		}
	}
	return GroupMembers{}, false
}

// Member returns node id's entry in g, false if it is no member.
func (g GroupMembers) Member(id uint16) (Member, bool) {
	for _, m := range g.Members {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// The operations of a MemberChange.
const (
	// OpAdd adds a node as a learner: it receives the log, votes in
	// nothing, and is promoted once it caught up.
	OpAdd = "add"
	// OpPromote makes a learner a voter; refused while it trails the
	// commit index by more than the engine's PromoteLag.
	OpPromote = "promote"
	// OpRemove removes a voter or a learner. Removing the group's leader
	// hands its leadership off first; the removal itself then goes to the
	// new leader (a 421 naming it).
	OpRemove = "remove"
)

// MemberChange is the body of POST /members: one change of one node,
// made in each of Groups in turn, each waiting until the group chose it.
type MemberChange struct {
	Op string `json:"op"` // OpAdd, OpPromote or OpRemove
	ID uint16 `json:"id"`
	// Addr is, for OpAdd, the node's peer address (required); Admin its
	// admin address (optional), recorded so members can point callers to
	// it when it leads.
	Addr  string `json:"addr,omitempty"`
	Admin string `json:"admin,omitempty"`
	// Groups are the groups to change, in order; empty: every group.
	Groups []int `json:"groups,omitempty"`
}

// MemberError is the body of a refused POST /members. Nothing of the
// refused group changed; the groups in Done, before it, did change.
type MemberError struct {
	Error string `json:"error"`
	Group int    `json:"group"`
	// Leader is, with 421 Misdirected Request, the group's leader as this
	// node knows it (0: unknown), LeaderAdmin its admin address when
	// known: send the change there.
	Leader      uint16 `json:"leader"`
	LeaderAdmin string `json:"leader_admin"`
	Done        []int  `json:"done"`
}

// ErrMembers is wrapped by ChangeMembers' and GetMembers' errors.
var ErrMembers = errors.New("adminapi: members")

// ChangeError is a refusal ChangeMembers could not get past: the node's
// HTTP status and its MemberError.
type ChangeError struct {
	Status int
	MemberError
}

func (e *ChangeError) Error() string {
	return fmt.Sprintf("%v: group %d: HTTP %d: %s", ErrMembers, e.Group, e.Status, e.MemberError.Error)
}

func (e *ChangeError) Unwrap() error { return ErrMembers }

// GetMembers reads GET /members from the first of admins (host:port, or
// a URL with its scheme) that answers.
func GetMembers(ctx context.Context, hc *http.Client, admins []string) (Members, error) {
	var last error = fmt.Errorf("%w: no admin address", ErrMembers)
	for _, a := range admins {
		var m Members
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(a)+"/members", nil)
		if err != nil {
			return Members{}, fmt.Errorf("%w: %w", ErrMembers, err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			last = fmt.Errorf("%w: %s: %w", ErrMembers, a, err)
			continue
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			last = fmt.Errorf("%w: %s: HTTP %d: %v", ErrMembers, a, resp.StatusCode, err)
			continue
		}
		return m, nil
	}
	return Members{}, last
}

// ChangeMembers posts ch to the members at admins, following refusals
// that name the leader (421): to LeaderAdmin when the node knows it, else
// to the next of admins; each time with the groups not yet done, and
// pausing a little once every address was tried (an election may be
// under way). It gives up at the first other refusal (a *ChangeError),
// after 64 attempts, or with ctx. It returns the configuration the node
// that made the last change reported.
func ChangeMembers(ctx context.Context, hc *http.Client, admins []string, token string, ch MemberChange) (Members, error) {
	if len(admins) == 0 {
		return Members{}, fmt.Errorf("%w: no admin address", ErrMembers)
	}
	todo := slices.Clone(ch.Groups)
	next, misses := admins[0], 0
	var last error
	// Bounded: hints that point back and forth end too.
	for tries := 0; tries < 64; tries++ {
		if misses > 0 && misses%len(admins) == 0 {
			t := time.NewTimer(time.Duration(min(misses, 10)) * 20 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if err := ctx.Err(); err != nil {
			return Members{}, fmt.Errorf("%w: %w (last: %v)", ErrMembers, err, last)
		}
		body := ch
		body.Groups = todo
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, adminURL(next)+"/members", bytes.NewReader(b))
		if err != nil {
			return Members{}, fmt.Errorf("%w: %w", ErrMembers, err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			last = fmt.Errorf("%w: %s: %w", ErrMembers, next, err)
			misses++
			next = admins[(slices.Index(admins, next)+1+len(admins))%len(admins)]
			continue
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			var m Members
			if err := json.Unmarshal(raw, &m); err != nil {
				return Members{}, fmt.Errorf("%w: %s: %w", ErrMembers, next, err)
			}
			return m, nil
		}
		var me MemberError
		if err := json.Unmarshal(raw, &me); err != nil {
			me.Error = strings.TrimSpace(string(raw))
		}
		ce := &ChangeError{Status: resp.StatusCode, MemberError: me}
		if resp.StatusCode != http.StatusMisdirectedRequest {
			return Members{}, ce
		}
		last = ce
		switch {
		case len(todo) == 0 || len(todo) == 1 && todo[0] < 0:
			// Every group (from some on) was asked for, and the node
			// took them in order: the rest are those from the refused
			// one on.
			todo = []int{-1 - me.Group}
		default:
			todo = slices.DeleteFunc(todo, func(g int) bool { return slices.Contains(me.Done, g) })
		}
		misses++
		if me.LeaderAdmin != "" && me.LeaderAdmin != next {
			next, misses = me.LeaderAdmin, 0
		} else {
			next = admins[(slices.Index(admins, next)+1+len(admins))%len(admins)]
		}
	}
	return Members{}, fmt.Errorf("%w: no member took the change: %w", ErrMembers, last)
}

// GroupsFrom decodes a MemberChange's Groups for a node running count
// groups: empty is all of them, and a negative entry -1-g stands for
// every group from g on (ChangeMembers' way of saying "the rest" without
// knowing the count). It returns false for a group the node does not run.
func GroupsFrom(groups []int, count int) ([]int, bool) {
	if len(groups) == 0 {
		groups = []int{-1}
	}
	var out []int
	for _, g := range groups {
		switch {
		case g < 0 && -1-g < count:
			for h := -1 - g; h < count; h++ {
				out = append(out, h)
			}
		case g >= 0 && g < count:
			out = append(out, g)
		default:
			return nil, false
		}
	}
	return out, true
}

// adminURL makes a host:port an http URL; one with a scheme is kept.
func adminURL(a string) string {
	if strings.Contains(a, "://") {
		return strings.TrimRight(a, "/")
	}
	return "http://" + a
}
