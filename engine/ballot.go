package engine

// Ballots are compared as plain integers: round<<16|node orders by round
// first and node second, which is exactly the Paxos total order, and makes
// two nodes' ballots distinct. These helpers keep that reasoning in one
// place (see ballot_test.go for the properties).

// nextBallot returns the lowest ballot owned by node that is higher than
// seen: the round after seen's, so a candidate always outbids every ballot
// it has heard of, whoever owns it.
func nextBallot(seen Ballot, node NodeID) Ballot {
	return MakeBallot(seen.Round()+1, node)
}
