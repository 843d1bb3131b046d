// Package nftname spells nftables families as nft(8) does, for the tools
// and tests that print tables and rules (cleanup, doctor, the test
// harness). The stages keep their own copy: each is a program to read on
// its own.
package nftname

import (
	"fmt"

	"github.com/google/nftables"
)

// Family is the family's name in nft(8) syntax: "ip", "inet", ….
func Family(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family%d", f)
}
