// Package adminapi holds the JSON types of a node's admin endpoints that
// more than one program decodes: the node serves them, the benchmark's
// launcher and reports read them. One definition keeps the two sides from
// drifting apart (a field one side assumes and the other never sends).
//
// The endpoints, all JSON:
//
//	GET  /status   Status
//	GET  /stages   StageReport
//	GET  /applied  AppliedReport (404 unless the node records them)
//	GET  /hash     HashReport (404 in null mode)
//	POST /faults   FaultSpec (needs the admin token; 204 on success)
//	GET  /members  Members
//	POST /members  MemberChange (needs the admin token): Members on
//	               success, else MemberError (ChangeMembers follows 421s)
package adminapi
