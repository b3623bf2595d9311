package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// WriteToken writes a fresh random admin token (32 hex digits, 128 bits)
// to path, readable by its owner only: whoever holds it can partition the
// nodes that read it with -admin-token-file.
func WriteToken(path string) error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("cluster: admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b[:])+"\n"), 0o600); err != nil {
		return fmt.Errorf("cluster: admin token: %w", err)
	}
	return nil
}

// ReadToken reads an admin token file the way cmd/node does: the file's
// content without surrounding white space.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cluster: admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("cluster: admin token file %s is empty", path)
	}
	return tok, nil
}
