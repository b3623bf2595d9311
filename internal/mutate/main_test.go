package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestApply(t *testing.T) {
	m := Mutant{Name: "x", File: "f.go", Old: "a < b", New: "a > b"}
	got, err := apply([]byte("if a < b {"), m)
	if err != nil || string(got) != "if a > b {" {
		t.Fatalf("apply = %q, %v", got, err)
	}
	for _, src := range []string{"if a <= b {", "a < b; a < b"} {
		if _, err := apply([]byte(src), m); !errors.Is(err, errSnippet) {
			t.Errorf("apply to %q: %v, want errSnippet", src, err)
		}
	}
}

// Every mutant of the data file applies to today's engine: a snippet that
// no longer matches exactly once means the data drifted from the code.
func TestMutantsApply(t *testing.T) {
	ms, err := loadMutants("mutants.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 30 {
		t.Fatalf("%d mutants, want at least 30", len(ms))
	}
	areas := make(map[string]int)
	for _, m := range ms {
		areas[m.Area]++
		src, err := os.ReadFile(filepath.Join("..", "..", m.File))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := apply(src, m); err != nil {
			t.Error(err)
		}
	}
	for _, a := range []string{"quorum", "acceptor", "proposer", "advance", "catch-up", "snapshots"} {
		if areas[a] == 0 {
			t.Errorf("no mutant in area %s", a)
		}
	}
}
