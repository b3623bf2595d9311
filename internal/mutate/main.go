package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Mutant is one entry of the data file.
type Mutant struct {
	Name string `json:"name"`
	Area string `json:"area"` // quorum, acceptor, proposer, advance, catch-up, snapshots, pre-prepare, thrifty
	File string `json:"file"` // relative to the module root
	Old  string `json:"old"`  // must occur exactly once in File
	New  string `json:"new"`
}

// Verdict is what running the tests against one mutant gave.
type Verdict struct {
	Mutant  Mutant
	Outcome string   // killed, survived, invalid
	Killers []string // failing tests, for killed
	Detail  string   // why invalid, or the first failure line
	// BySim: the simulator's tests alone (-run ^TestSim) fail too. A
	// panicking unit test ends the test binary before the simulator
	// runs, so a killed mutant whose killers name no simulator test is
	// run again with only the simulator's tests.
	BySim   bool
	Elapsed time.Duration
}

var errSnippet = errors.New("mutate: snippet does not match exactly once")

// apply returns src with m's snippet replaced.
func apply(src []byte, m Mutant) ([]byte, error) {
	if n := bytes.Count(src, []byte(m.Old)); n != 1 {
		return nil, fmt.Errorf("%w: %q matches %d times in %s", errSnippet, m.Name, n, m.File)
	}
	return bytes.Replace(src, []byte(m.Old), []byte(m.New), 1), nil
}

func loadMutants(path string) ([]Mutant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ms []Mutant
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("mutate: %s: %w", path, err)
	}
	seen := make(map[string]bool)
	for _, m := range ms {
		if m.Name == "" || m.File == "" || m.Old == "" || m.Old == m.New {
			return nil, fmt.Errorf("mutate: %s: incomplete mutant %+v", path, m)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("mutate: %s: mutant %q twice", path, m.Name)
		}
		seen[m.Name] = true
	}
	return ms, nil
}

// copyModule copies the module at root to dst, without .git and results.
func copyModule(root, dst string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (rel == ".git" || rel == "results") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// testArgs is CI's engine test command minus the golden transcripts.
var testArgs = []string{"test", "-tags", "invariants", "-count=1", "-skip", "^TestInteraction$", "./engine/"}

var failRE = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// runTests runs the test command in dir. It returns whether it passed, the
// failing tests, and the output; a build failure is an error.
func runTests(ctx context.Context, dir string, extra ...string) (bool, []string, string, error) {
	args := append(append([]string{}, testArgs[:len(testArgs)-1]...), extra...)
	args = append(args, testArgs[len(testArgs)-1])
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		return true, nil, string(out), nil
	}
	if ctx.Err() != nil {
		return false, []string{"(timed out)"}, string(out), nil
	}
	if bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")) {
		return false, nil, string(out), fmt.Errorf("mutate: build failed:\n%s", out)
	}
	var killers []string
	for _, m := range failRE.FindAllStringSubmatch(string(out), -1) {
		if !strings.Contains(m[1], "/") {
			killers = append(killers, m[1])
		}
	}
	if len(killers) == 0 {
		killers = []string{"(package failed: panic or timeout)"}
	}
	return false, killers, string(out), nil
}

func firstFailure(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "FAIL seed") || strings.Contains(l, "_test.go:") {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			return l
		}
	}
	return ""
}

func main() {
	mutantsPath := flag.String("mutants", "internal/mutate/mutants.json", "the mutants data file")
	out := flag.String("out", "", "write the Markdown report here too (e.g. results/mutation.md)")
	only := flag.String("only", "", "run only mutants whose name matches this regular expression")
	timeout := flag.Duration("timeout", 10*time.Minute, "time allowed per test run")
	flag.Parse()
	if err := run(*mutantsPath, *out, *only, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(mutantsPath, out, only string, timeout time.Duration) error {
	ms, err := loadMutants(mutantsPath)
	if err != nil {
		return err
	}
	onlyRE, err := regexp.Compile(only)
	if err != nil {
		return fmt.Errorf("mutate: -only: %w", err)
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyModule(root, tmp); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	ok, killers, output, err := runTests(ctx, tmp)
	cancel()
	if err != nil || !ok {
		return fmt.Errorf("mutate: the unmutated module fails %v: %v\n%s", killers, err, output)
	}
	start := time.Now()
	var vs []Verdict
	for _, m := range ms {
		if !onlyRE.MatchString(m.Name) {
			continue
		}
		v := runMutant(tmp, m, timeout)
		fmt.Fprintf(os.Stderr, "%-8s %-55s %v %s\n", v.Outcome, m.Name, v.Elapsed.Round(time.Second), strings.Join(v.Killers, ","))
		vs = append(vs, v)
	}
	report := render(vs, time.Since(start))
	fmt.Print(report)
	if out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	for _, v := range vs {
		if v.Outcome != "killed" {
			return fmt.Errorf("mutate: not every mutant was killed")
		}
	}
	return nil
}

func runMutant(tmp string, m Mutant, timeout time.Duration) (v Verdict) {
	v.Mutant = m
	start := time.Now()
	defer func() { v.Elapsed = time.Since(start) }()
	path := filepath.Join(tmp, m.File)
	orig, err := os.ReadFile(path)
	if err != nil {
		v.Outcome, v.Detail = "invalid", err.Error()
		return v
	}
	mut, err := apply(orig, m)
	if err != nil {
		v.Outcome, v.Detail = "invalid", err.Error()
		return v
	}
	if err := os.WriteFile(path, mut, 0o644); err != nil {
		v.Outcome, v.Detail = "invalid", err.Error()
		return v
	}
	defer os.WriteFile(path, orig, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	passed, killers, output, err := runTests(ctx, tmp)
	switch {
	case err != nil:
		v.Outcome, v.Detail = "invalid", firstLine(err.Error())
	case passed:
		v.Outcome = "survived"
	default:
		v.Outcome, v.Killers, v.Detail = "killed", killers, firstFailure(output)
		v.BySim = bySimulator(killers)
		if !v.BySim {
			passed, _, _, err := runTests(ctx, tmp, "-run", "^TestSim")
			v.BySim = err == nil && !passed
		}
	}
	return v
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func render(vs []Verdict, elapsed time.Duration) string {
	var b strings.Builder
	killed, bySim := 0, 0
	for _, v := range vs {
		if v.Outcome == "killed" {
			killed++
			if v.BySim {
				bySim++
			}
		}
	}
	fmt.Fprintf(&b, "# Mutation score of the engine\n\n")
	fmt.Fprintf(&b, "%d of %d mutants killed (%s): %d by the simulator (its TestSim* tests alone fail), %d by unit and property tests alone.\n\n", killed, len(vs), elapsed.Round(time.Second), bySim, killed-bySim)
	fmt.Fprintf(&b, "Command: `go run ./internal/mutate -out results/mutation.md`; each mutant (internal/mutate/mutants.json) is run under `go %s`, the golden interaction transcripts excluded.\n\n", strings.Join(testArgs, " "))
	fmt.Fprintf(&b, "| mutant | area | file | outcome | by the simulator | failing tests | first failure |\n|---|---|---|---|---|---|---|\n")
	for _, v := range vs {
		d := strings.ReplaceAll(v.Detail, "|", "\\|")
		sim := "no"
		if v.BySim {
			sim = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", v.Mutant.Name, v.Mutant.Area, v.Mutant.File, v.Outcome, sim, strings.Join(v.Killers, ", "), d)
	}
	return b.String()
}

// bySimulator reports whether a simulator test is among the killers.
func bySimulator(killers []string) bool {
	for _, k := range killers {
		if strings.HasPrefix(k, "TestSim") {
			return true
		}
	}
	return false
}
