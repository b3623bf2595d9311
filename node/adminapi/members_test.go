package adminapi

import (
	"slices"
	"testing"
)

func TestGroupsFrom(t *testing.T) {
	for _, tc := range []struct {
		in    []int
		count int
		want  []int
		ok    bool
	}{
		{nil, 3, []int{0, 1, 2}, true},
		{[]int{2, 0}, 3, []int{2, 0}, true},
		{[]int{-2}, 3, []int{1, 2}, true},
		{[]int{-1}, 1, []int{0}, true},
		{[]int{3}, 3, nil, false},
		{[]int{-4}, 3, nil, false},
	} {
		got, ok := GroupsFrom(tc.in, tc.count)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("GroupsFrom(%v, %d) = %v, %v; want %v, %v", tc.in, tc.count, got, ok, tc.want, tc.ok)
		}
	}
}
