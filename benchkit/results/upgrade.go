package results

import (
	"encoding/json"
	"fmt"
)

// v1Names are the field names format 1 spelled differently: seconds were
// _sec (and the series' instant plain "t"), throughput ops_per_sec. Every
// other name is the same in format 2. Each old name meant one thing
// wherever it stood, so the renaming applies at any depth.
var v1Names = map[string]string{
	"elapsed_sec":    "elapsed_s",
	"ops_per_sec":    "ops_per_s",
	"window_sec":     "window_s",
	"nodes_cpu_sec":  "nodes_cpu_s",
	"bench_cpu_sec":  "bench_cpu_s",
	"t":              "t_s",
	"start_sec":      "start_s",
	"end_sec":        "end_s",
	"downtime_sec":   "downtime_s",
	"recover_90_sec": "recover_90_s",
	"stalled_sec":    "stalled_s",
}

// upgrade returns a result file's JSON in the current format: format 1
// (the committed results under results/ among them) is renamed field by
// field; the current format is returned as it is.
func upgrade(b []byte) ([]byte, error) {
	var head struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, err
	}
	if head.Format != 1 {
		return b, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	// The settings are benchkit.Config as it was, not renamed.
	settings := top["settings"]
	delete(top, "settings")
	v = rename(top)
	top = v.(map[string]any)
	if settings != nil {
		top["settings"] = settings
	}
	top["format"] = Format
	return json.Marshal(top)
}

func rename(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if n, ok := v1Names[k]; ok {
				k = n
			}
			out[k] = rename(x)
		}
		return out
	case []any:
		for i := range t {
			t[i] = rename(t[i])
		}
	}
	return v
}
