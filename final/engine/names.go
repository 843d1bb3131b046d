package engine

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// Docker names a container it is given no name for after an adjective and
// a scientist or engineer (moby's namesgenerator); cfs does the same, from
// a shorter list.
var (
	adjectives = []string{"admiring", "agitated", "amazing", "awesome", "bold", "brave", "busy", "clever",
		"cool", "dazzling", "eager", "elegant", "epic", "festive", "focused", "friendly", "funny", "gifted",
		"happy", "hopeful", "jolly", "keen", "kind", "laughing", "lucid", "magical", "modest", "nice",
		"nifty", "peaceful", "practical", "quirky", "relaxed", "serene", "sharp", "stoic", "sweet",
		"tender", "trusting", "upbeat", "vibrant", "wizardly", "youthful", "zealous"}
	surnames = []string{"babbage", "bell", "bohr", "curie", "darwin", "dijkstra", "einstein", "euler",
		"faraday", "feynman", "franklin", "galileo", "gauss", "goldberg", "hamilton", "hopper", "hypatia",
		"kepler", "knuth", "lamarr", "lovelace", "maxwell", "mccarthy", "meitner", "newton", "noether",
		"pascal", "pike", "ritchie", "shannon", "thompson", "torvalds", "turing", "wilson", "wozniak"}
)

// randomName returns adjective_surname; after a few names taken, a
// number is added, as docker does.
func randomName(retry int) string {
	n := adjectives[pick(len(adjectives))] + "_" + surnames[pick(len(surnames))]
	if retry > 0 {
		n += fmt.Sprint(pick(10))
	}
	return n
}

func pick(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}
