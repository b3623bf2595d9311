package adminapi

// StageReport is what GET /stages returns: every stage's cumulative
// latency histogram (ns) and the proposed batch sizes (commands), each
// since the node started and HdrHistogram V2-encoded (base64), so that a
// benchmark can subtract a reading at the start of its measured window
// from one at the end.
//
//	{"node":1,"stages":{"queue":"HISTF...","quorum_wait":"HISTF..."},"batch_sizes":"HISTF..."}
type StageReport struct {
	Node       uint16            `json:"node"`
	Stages     map[string]string `json:"stages"`
	BatchSizes string            `json:"batch_sizes"`
}
