package benchkit

import (
	"errors"
	"testing"
)

// Every preset's schedule parses and passes Validate on the default run.
func TestScenariosValidate(t *testing.T) {
	for _, s := range Scenarios {
		c := DefaultConfig()
		s.Apply(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("scenario %s: %v", s.Name, err)
		}
		if got, err := LookupScenario(s.Name); err != nil || got.Name != s.Name {
			t.Errorf("lookup %s: %v", s.Name, err)
		}
		if (s.Faults != "" || s.Check) && !c.Check {
			t.Errorf("scenario %s plays faults without checks", s.Name)
		}
	}
	if _, err := LookupScenario("meteor"); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown scenario: %v", err)
	}
}
