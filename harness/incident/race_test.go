//go:build race

package incident

// raceEnabled scales the synthesized incident down under the race
// detector, which runs this code ten to twenty times slower: the tests
// check the same properties on 4,000 users instead of 20,000.
const raceEnabled = true
