package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mpaxos/mpaxos/benchkit/hist"
)

// SVGMarker is the comment every SVG the benchmark writes carries near its
// start; an existing .svg without it is not ours and is never overwritten.
const SVGMarker = "<!-- mpaxos-bench -->"

// Errors a user can cause.
var (
	// ErrNotOurs: a file to be written exists and is not a bench result.
	ErrNotOurs = errors.New("exists and is not a bench result; refusing to overwrite")
	// ErrNotResult: a file given to compare is not a bench result.
	ErrNotResult = errors.New("results: not a bench result")
)

// CheckOverwrite returns nil if path does not exist or holds a file the
// benchmark wrote (a result or sweep JSON, an .hgrm, a marked SVG).
func CheckOverwrite(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("results: %s %w", path, ErrNotOurs)
	}
	ours := false
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		var head struct{ Kind string }
		ours = json.NewDecoder(f).Decode(&head) == nil && (head.Kind == KindRun || head.Kind == KindSweep)
	case ".hgrm":
		_, err := hist.ParseHgrm(f)
		ours = err == nil
	case ".svg":
		head := make([]byte, 512)
		n, _ := io.ReadFull(f, head)
		ours = bytes.Contains(head[:n], []byte(SVGMarker))
	}
	if !ours {
		return fmt.Errorf("results: %s %w", path, ErrNotOurs)
	}
	return nil
}

// CheckWritable returns nil if files can be created next to base (a -out
// name): its directory exists or can be made, and a file can be created
// in it. Call it before a run, so minutes of measuring are not spent on
// results that cannot be written where asked.
func CheckWritable(base string) error {
	dir := filepath.Dir(base)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: cannot write to %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(base)+".probe.*")
	if err != nil {
		return fmt.Errorf("results: cannot write to %s: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// WriteOrRescue writes outs (WriteFiles). When that fails, it writes
// them under the same base names into a new temporary directory instead
// and returns that directory with the first error, so a finished run is
// never lost to an unwritable -out: the caller says where the data went.
// rescued is "" when outs were written where asked or not at all.
func WriteOrRescue(outs ...Output) (rescued string, err error) {
	err = WriteFiles(outs...)
	if err == nil {
		return "", nil
	}
	dir, terr := os.MkdirTemp("", "mpaxos-bench-rescued-")
	if terr != nil {
		return "", errors.Join(err, fmt.Errorf("results: no temporary directory either: %w", terr))
	}
	moved := make([]Output, len(outs))
	for i, o := range outs {
		moved[i] = Output{Path: filepath.Join(dir, filepath.Base(o.Path)), Data: o.Data}
	}
	if terr := WriteFiles(moved...); terr != nil {
		os.RemoveAll(dir)
		return "", errors.Join(err, fmt.Errorf("results: not in a temporary directory either: %w", terr))
	}
	return dir, err
}

// Output is one file to write.
type Output struct {
	Path string
	Data []byte
}

// WriteFiles checks every path first (so nothing is written when one would
// clobber a foreign file), creates the directories, and writes each file
// atomically (temporary file, then rename).
func WriteFiles(outs ...Output) error {
	for _, o := range outs {
		if err := CheckOverwrite(o.Path); err != nil {
			return err
		}
	}
	for _, o := range outs {
		dir := filepath.Dir(o.Path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("results: %w", err)
		}
		tmp, err := os.CreateTemp(dir, "."+filepath.Base(o.Path)+".*")
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		_, werr := tmp.Write(o.Data)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("results: write %s: %w", o.Path, err)
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("results: %w", err)
		}
		if err := os.Rename(tmp.Name(), o.Path); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("results: %w", err)
		}
	}
	return nil
}

// Base strips a known extension from a -out argument: "results/x.json" and
// "results/x" both name the run "results/x".
func Base(out string) string {
	switch strings.ToLower(filepath.Ext(out)) {
	case ".json", ".hgrm", ".svg":
		return strings.TrimSuffix(out, filepath.Ext(out))
	}
	return out
}

// Marshal returns r as indented JSON.
func Marshal(r *Result) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return append(b, '\n'), nil
}

// Load reads a run result written by the benchmark.
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	if b, err = upgrade(b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotResult, path, err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotResult, path, err)
	}
	if r.Kind != KindRun {
		return nil, fmt.Errorf("%w: %s (kind %q)", ErrNotResult, path, r.Kind)
	}
	if r.Format > Format {
		return nil, fmt.Errorf("%w: %s has format %d, this bench reads up to %d", ErrNotResult, path, r.Format, Format)
	}
	// A file with the right kind but not the content (a stub, a
	// truncated copy) would compare as zeros.
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{{"settings", len(r.Settings) == 0 || string(r.Settings) == "null"}, {"histogram", r.Histogram == ""},
		{"mode", r.Mode == ""}, {"durability", r.Durability == ""}} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s is not a complete result (no %s)", ErrNotResult, path, strings.Join(missing, ", "))
	}
	if _, err := hist.Decode(r.Histogram); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotResult, path, err)
	}
	return &r, nil
}
