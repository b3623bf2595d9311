// Package config holds the error type the packages' Config.Validate
// methods report problems with: one per field, so that a command can name
// its own flag for the field instead of the Go name, and list every
// problem, as Pebble's Options report by option.
package config

import (
	"errors"
	"fmt"
)

// FieldError is one problem with one field of a Config.
type FieldError struct {
	// Kind is the package's sentinel (batch.ErrConfig, node.ErrConfig);
	// errors.Is(err, Kind) holds.
	Kind error
	// Field is the field's Go path from the Config validated, e.g.
	// "Pipeline" or "Batch.MaxCount".
	Field string
	// Value is the field's value as the user gave it; nil when the
	// problem is not with one value (a missing setting).
	Value any
	// Problem says what is wrong: "must be at least 1".
	Problem string
}

// Error names the kind, the field, its value and the problem.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s", e.Kind, e.Short(e.Field))
}

// Short names the problem under name (a field or a flag) without the kind:
// "-batch-size -3: must be at least 1".
func (e *FieldError) Short(name string) string {
	if e.Value == nil {
		return fmt.Sprintf("%s: %s", name, e.Problem)
	}
	return fmt.Sprintf("%s %v: %s", name, e.Value, e.Problem)
}

// Unwrap returns Kind.
func (e *FieldError) Unwrap() error { return e.Kind }

// Fields returns every FieldError in err, which may join many (errors.Join)
// or wrap them, in order.
func Fields(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Nest re-reports the field errors of a nested Config (err from its
// Validate) under prefix ("Batch") and kind, so that the outer package's
// sentinel holds for them too. Errors that are not field errors are
// wrapped in kind.
func Nest(kind error, prefix string, err error) []error {
	if err == nil {
		return nil
	}
	fes := Fields(err)
	if len(fes) == 0 {
		return []error{fmt.Errorf("%w: %w", kind, err)}
	}
	out := make([]error, 0, len(fes))
	for _, fe := range fes {
		c := *fe
		c.Kind, c.Field = joinKinds(kind, fe.Kind), prefix+"."+fe.Field
		out = append(out, &c)
	}
	return out
}

// joinKinds makes one sentinel that both outer and inner match.
func joinKinds(outer, inner error) error {
	return kinds{outer, inner}
}

type kinds [2]error

func (k kinds) Error() string   { return k[0].Error() }
func (k kinds) Unwrap() []error { return k[:] }

// Collector gathers a Validate's problems.
type Collector struct {
	kind error
	errs []error
}

// NewCollector returns a Collector whose problems wrap kind.
func NewCollector(kind error) *Collector { return &Collector{kind: kind} }

// Bad records a problem with field, whose value is value (nil: none).
func (c *Collector) Bad(field string, value any, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Kind: c.kind, Field: field, Value: value, Problem: fmt.Sprintf(format, args...)})
}

// Nested records the problems of a nested Config under prefix.
func (c *Collector) Nested(prefix string, err error) {
	c.errs = append(c.errs, Nest(c.kind, prefix, err)...)
}

// Err returns every problem joined, or nil.
func (c *Collector) Err() error { return errors.Join(c.errs...) }
