package runner

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpaxos/mpaxos/benchkit"
)

func TestReadRESPReply(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want respReply
		err  bool
	}{
		{in: "+OK\r\n", want: respReply{kind: '+', data: []byte("OK")}},
		{in: "-MOVED 1 a:1\r\n", want: respReply{kind: '-', data: []byte("MOVED 1 a:1")}},
		{in: "$3\r\nabc\r\n", want: respReply{kind: '$', data: []byte("abc")}},
		{in: "$0\r\n\r\n", want: respReply{kind: '$', data: []byte{}}},
		{in: "$-1\r\n", want: respReply{kind: '$', null: true}},
		{in: "_\r\n", want: respReply{kind: '$', null: true}},
		{in: "$99999999999\r\n", err: true},
		{in: "$x\r\n", err: true},
		{in: "*1\r\n", err: true},
		{in: "+OK\n", err: true},
		{in: "$5\r\nab", err: true},
	} {
		got, err := readRESPReply(bufio.NewReader(strings.NewReader(tt.in)))
		if tt.err {
			if err == nil {
				t.Errorf("%q: read %+v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got.kind != tt.want.kind || got.null != tt.want.null || string(got.data) != string(tt.want.data) {
			t.Errorf("%q: %+v %v, want %+v", tt.in, got, err, tt.want)
		}
	}
}

// fakeRESP serves GET and SET from a map, or answers every command with
// -MOVED to another address when moved is set. It answers commands in the
// order they came, like the front end.
func fakeRESP(t *testing.T, moved string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	m := map[string]string{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					var args []string
					line, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					var n int
					fmt.Sscanf(line, "*%d", &n)
					for i := 0; i < n; i++ {
						rd.ReadString('\n') // $len
						a, _ := rd.ReadString('\n')
						args = append(args, strings.TrimSuffix(a, "\r\n"))
					}
					var reply string
					mu.Lock()
					switch {
					case moved != "":
						reply = "-MOVED 1 " + moved + "\r\n"
					case args[0] == "SET":
						m[args[1]] = args[2]
						reply = "+OK\r\n"
					case args[0] == "GET":
						if v, ok := m[args[1]]; ok {
							reply = fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
						} else {
							reply = "$-1\r\n"
						}
					}
					mu.Unlock()
					c.Write([]byte(reply))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// Sessions sharing a connection get their own replies; a -MOVED is
// followed to the node it names; a node that is gone is skipped.
func TestRESPTarget(t *testing.T) {
	leader := fakeRESP(t, "")
	follower := fakeRESP(t, leader)
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAddr := gone.Addr().String()
	gone.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg, err := DialRESP(ctx, []string{follower, goneAddr, leader}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		s := tg.Session()
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				key, val := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d-%d", i, j)
				if _, err := s.Do(ctx, benchkit.Op{Kind: benchkit.OpPut, Key: []byte(key), Value: []byte(val)}); err != nil {
					errs <- err
					return
				}
				r, err := s.Do(ctx, benchkit.Op{Kind: benchkit.OpGet, Key: []byte(key)})
				if err != nil || !r.Found || string(r.Value) != val {
					errs <- fmt.Errorf("get %s: %q %v %v, want %q", key, r.Value, r.Found, err, val)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := tg.(*respTarget).Session().(*respSession)
	s.addr = goneAddr
	if r, err := s.Do(ctx, benchkit.Op{Kind: benchkit.OpGet, Key: []byte("nope")}); err != nil || r.Found {
		t.Fatalf("from a node that is gone: %+v %v", r, err)
	}
}
