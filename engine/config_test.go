package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.ID, good.Peers = 1, []NodeID{1, 2, 3}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	joining := good
	joining.ID, joining.Learners = 4, []NodeID{4}
	if err := joining.Validate(); err != nil {
		t.Fatalf("a joining learner's config: %v", err)
	}
	tests := []struct {
		name  string
		edit  func(*Config)
		wants []string
	}{
		{"zero id", func(c *Config) { c.ID = 0 }, []string{"ID must be non-zero"}},
		{"id not in peers", func(c *Config) { c.ID = 4 }, []string{"does not contain ID 4"}},
		{"duplicate and zero peer", func(c *Config) { c.Peers = []NodeID{1, 2, 2, 0} }, []string{"twice", "node 0"}},
		{"learner also a voter, learner 0, negative lag", func(c *Config) { c.Learners, c.PromoteLag = []NodeID{3, 0}, -1 },
			[]string{"node 3 is listed twice in Peers and Learners", "Learners contains node 0", "PromoteLag"}},
		{"no voter", func(c *Config) { c.Peers, c.Learners = nil, []NodeID{1} }, []string{"Peers is empty"}},
		{"every timing problem at once", func(c *Config) { c.HeartbeatTicks, c.ElectionTicks, c.MaxInflight, c.MaxMsgBytes = 0, 0, 0, 0 },
			[]string{"HeartbeatTicks", "ElectionTicks", "MaxInflight", "MaxMsgBytes"}},
		{"drift of 1 and no margin", func(c *Config) { c.MaxClockDrift, c.LeaseMarginTicks = 1, 0 },
			[]string{"MaxClockDrift", "LeaseMarginTicks"}},
		{"negative drift", func(c *Config) { c.MaxClockDrift = -0.1 }, []string{"MaxClockDrift"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.Peers = append([]NodeID(nil), good.Peers...)
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
