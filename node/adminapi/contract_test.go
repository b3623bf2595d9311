package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit/cluster"
	"github.com/mpaxos/mpaxos/client"
	"github.com/mpaxos/mpaxos/engine"
	"github.com/mpaxos/mpaxos/faults"
	"github.com/mpaxos/mpaxos/internal/testnet"
	"github.com/mpaxos/mpaxos/node"
	"github.com/mpaxos/mpaxos/node/adminapi"
)

// waitBound bounds every wait: a cluster that never gets there fails the
// test instead of hanging it. No result depends on it.
const waitBound = 30 * time.Second

const token = "0123456789abcdef-contract"

// TestAdminContract starts a real three-node cluster in process, writes
// through it, and decodes every admin endpoint of the leader into its
// adminapi type with unknown fields disallowed (a field the node sends
// that the type lacks fails), checks that every field of the type is in
// what the node sent (a field the bench reads that the node never sends
// fails), and checks the key fields carry values. The bench's own readers
// (package cluster) then read the same endpoints, and its fault bodies are
// accepted by the node.
func TestAdminContract(t *testing.T) {
	const size = 3
	clients, admins := startCluster(t, size)
	cl, err := client.Dial(clients, client.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s := cl.Session()
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), waitBound)
		err := s.Put(ctx, []byte(fmt.Sprintf("k%d", i)), []byte("v"))
		cancel()
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	lead := waitLeaderWithPeers(t, admins)
	admin := admins[lead]

	var st adminapi.Status
	get(t, admin, "/status", &st)
	if st.ID != uint16(lead+1) || st.Role != "leader" || st.Leader != st.ID || st.Ballot == "" ||
		st.Commit == 0 || st.Applied == 0 || st.Batches == 0 || st.Commands == 0 || st.Syncs == 0 {
		t.Errorf("/status: key fields not set: %+v", st)
	}
	if !st.Settings.Reported() || !st.Sync || st.BatchSize <= 0 || st.Pipeline <= 0 || st.Batching == "" || st.ReadMode == "" {
		t.Errorf("/status: settings not set: %+v", st.Settings)
	}
	if len(st.Peers) == 0 || st.Peers[0].ID == 0 {
		t.Errorf("/status: the leader sent no peer progress: %+v", st.Peers)
	}

	var sr adminapi.StageReport
	get(t, admin, "/stages", &sr)
	if sr.Node != st.ID || len(sr.Stages) == 0 || sr.BatchSizes == "" {
		t.Errorf("/stages: key fields not set: node %d, %d stages, batch sizes %q", sr.Node, len(sr.Stages), sr.BatchSizes)
	}

	var ar adminapi.AppliedReport
	get(t, admin, "/applied", &ar)
	if ar.Node != st.ID || ar.Applied == 0 || ar.Total < 20 || len(ar.Commands) == 0 {
		t.Errorf("/applied: key fields not set: %+v", ar)
	} else if c := ar.Commands[len(ar.Commands)-1]; c.Slot == 0 || c.Client == 0 || c.Seq == 0 {
		t.Errorf("/applied: command fields not set: %+v", c)
	}

	var hr adminapi.HashReport
	get(t, admin, "/hash", &hr)
	if hr.Node != st.ID || hr.Applied == 0 || hr.Hash == 0 {
		t.Errorf("/hash: key fields not set: %+v", hr)
	}

	membersContract(t, admins, lead)

	// Every field of FaultSpec is one the node accepts (it decodes with
	// unknown fields disallowed), and so is what the bench sends.
	other := uint16((lead+1)%size + 1)
	full, err := json.Marshal(adminapi.FaultSpec{Isolate: []uint16{other}, DropTo: []uint16{other}, DropFrom: []uint16{other},
		Delay: "1ms", Jitter: "1ms", DropRate: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	postFaults(t, admin, full)
	bench, err := cluster.FaultBody(faults.NetSpec{Block: []faults.NodeID{faults.NodeID(other)}, Delay: time.Millisecond,
		Jitter: time.Millisecond, Loss: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	postFaults(t, admin, bench)
	postFaults(t, admin, []byte(`{}`))

	// The bench's readers: the durability a result records is the one the
	// nodes sent.
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	sts := cluster.NewMonitor(admins).Poll(ctx)
	set, durability, note := cluster.ReportedSettings(sts)
	if set == nil || durability != "sync" || note != "" {
		t.Errorf("bench reads settings %+v durability %q (%s), want the nodes' sync", set, durability, note)
	}
	nc := cluster.NewNetClient(token)
	if hs, err := nc.Hashes(ctx, admins); err != nil || len(hs) != size || hs[lead].Node != hr.Node || hs[lead].Applied < hr.Applied {
		t.Errorf("bench reads hashes %+v: %v", hs, err)
	}
	if reps, err := nc.Applied(ctx, admins); err != nil || len(reps) != size || reps[lead].Total < ar.Total {
		t.Errorf("bench reads applied: %v", err)
	}
	if rep, err := cluster.FetchStages(ctx, http.DefaultClient, admin); err != nil || rep.Node != st.ID {
		t.Errorf("bench reads stages of node %d: %v", rep.Node, err)
	}
}

// membersContract: GET /members decodes strictly into Members, with every
// field of its nested types sent; a MemberChange with every field set is
// one the node accepts (it decodes with unknown fields disallowed), and a
// refusal decodes strictly into MemberError with every field sent.
func membersContract(t *testing.T, admins []string, lead int) {
	t.Helper()
	var m adminapi.Members
	get(t, admins[lead], "/members", &m)
	if m.Node != uint16(lead+1) || m.Removed || len(m.Groups) != 1 || len(m.Groups[0].Members) != 3 || m.Groups[0].Leader != m.Node {
		t.Errorf("/members: key fields not set: %+v", m)
	}
	var raw struct {
		Groups []map[string]json.RawMessage `json:"groups"`
	}
	resp, err := http.Get("http://" + admins[lead] + "/members")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if err != nil || len(raw.Groups) == 0 {
		t.Fatalf("/members: %v", err)
	}
	hasAll(t, "/members group", raw.Groups[0], adminapi.GroupMembers{})
	var members []map[string]json.RawMessage
	if err := json.Unmarshal(raw.Groups[0]["members"], &members); err != nil || len(members) == 0 {
		t.Fatalf("/members members: %v", err)
	}
	hasAll(t, "/members member", members[0], adminapi.Member{})

	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	ch := adminapi.MemberChange{Op: adminapi.OpAdd, ID: 9, Addr: "127.0.0.1:1", Admin: "127.0.0.1:2", Groups: []int{0}}
	got, err := adminapi.ChangeMembers(ctx, http.DefaultClient, admins, token, ch)
	if err != nil {
		t.Fatal(err)
	}
	if mb, ok := got.Groups[0].Member(9); !ok || mb.Role != adminapi.RoleLearner || mb.Addr != ch.Addr || mb.Admin != ch.Admin {
		t.Errorf("after adding learner 9: %+v", got.Groups[0])
	}
	if _, err := adminapi.ChangeMembers(ctx, http.DefaultClient, admins, token, adminapi.MemberChange{Op: adminapi.OpRemove, ID: 9}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(adminapi.MemberChange{Op: adminapi.OpRemove, ID: 9})
	req, _ := http.NewRequest(http.MethodPost, "http://"+admins[lead]+"/members", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var me adminapi.MemberError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var fields map[string]json.RawMessage
	if resp.StatusCode != http.StatusConflict || dec.Decode(&me) != nil || json.Unmarshal(body, &fields) != nil || me.Error == "" {
		t.Fatalf("removing a non-member: %s: %s", resp.Status, body)
	}
	hasAll(t, "POST /members refusal", fields, adminapi.MemberError{})
}

// hasAll checks that raw has every JSON field of v's type.
func hasAll(t *testing.T, what string, raw map[string]json.RawMessage, v any) {
	t.Helper()
	for _, name := range jsonNames(reflect.TypeOf(v)) {
		if _, ok := raw[name]; !ok {
			t.Errorf("%s: %T declares %q, which the node did not send", what, v, name)
		}
	}
}

// get GETs path of admin and decodes it into v strictly, then checks that
// every JSON field of v's type is in the answer.
func get(t *testing.T, admin, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %v: %s", path, resp.Status, err, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: the node sends what %T does not declare: %v", path, v, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, name := range jsonNames(reflect.TypeOf(v).Elem()) {
		if _, ok := raw[name]; !ok {
			t.Errorf("%s: %T declares %q, which the node did not send", path, v, name)
		}
	}
}

// jsonNames lists the JSON object keys of struct type typ, embedded
// structs' keys included.
func jsonNames(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			out = append(out, jsonNames(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

func postFaults(t *testing.T, admin string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+admin+"/faults", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /faults %s: %s: %s", body, resp.Status, msg)
	}
}

// startCluster starts size in-process nodes on loopback, each with a
// store in a temporary directory, recording applied commands and serving
// the fault hook; it returns their client and admin addresses.
func startCluster(t *testing.T, size int) (clients, admins []string) {
	t.Helper()
	ports := testnet.FreePorts(t, 3*size)
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	peers := make(map[engine.NodeID]string, size)
	for i := range size {
		peers[engine.NodeID(i+1)] = addr(3 * i)
	}
	base := t.TempDir()
	for i := range size {
		cfg := node.DefaultConfig()
		cfg.ID = engine.NodeID(i + 1)
		cfg.Peers = peers
		cfg.ClientAddr, cfg.AdminAddr = addr(3*i+1), addr(3*i+2)
		cfg.DataDir = filepath.Join(base, fmt.Sprintf("n%d", i+1))
		cfg.MemTable = 4 << 20
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Seed = int64(i + 1)
		cfg.RecordApplied = 1000
		cfg.EnableFaultHook, cfg.AdminToken = true, token
		n, err := node.Start(cfg)
		if err != nil {
			t.Fatalf("starting node %d: %v", i+1, err)
		}
		t.Cleanup(func() { n.Close() })
		clients = append(clients, cfg.ClientAddr)
		admins = append(admins, cfg.AdminAddr)
	}
	return clients, admins
}

// waitLeaderWithPeers returns the index of the node that leads once it
// has published its peers' progress, which it does on its own schedule
// (no event to await from outside the node).
func waitLeaderWithPeers(t *testing.T, admins []string) int {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		for i, a := range admins {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := cluster.FetchStatus(ctx, http.DefaultClient, a)
			cancel()
			if err == nil && st.Role == "leader" && len(st.Peers) > 0 && st.Applied > 0 {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no leader published its peers' progress within %v", waitBound)
	return -1
}
