// Package nft writes nftables rules once, in the syntax of nft(8), and
// sends them to the kernel over netlink with google/nftables. A student
// reads each rule as nft would print it; --trace prints exactly that text;
// and the package compiles it to the expressions the kernel runs, the ones
// `nft --debug=netlink` shows.
//
//	var b nft.Batch
//	b.Add("add table ip cfs")
//	b.Add("add chain ip cfs postrouting { type nat hook postrouting priority srcnat; }")
//	b.Add("add rule ip cfs postrouting ip saddr %s oifname != %q counter masquerade", subnet, "cfs0")
//	err := b.Run(tr, nil) // one transaction: all of it or nothing
//
// Only the commands and statements the project needs are understood (see
// parseRule); anything else is an error when the batch runs, not a
// silent guess.
package nft

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"cfs/internal/kernel"
	"cfs/internal/nftname"
	"cfs/internal/trace"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
)

// Batch is a list of nft commands, sent to the kernel as one transaction
// (NFNL_MSG_BATCH_BEGIN … END): the kernel applies all of it or none, so
// no packet ever meets half a ruleset. Same as `nft -f FILE`.
type Batch struct {
	lines []string
	err   error // the first command that did not parse
}

// Add appends one command, written as fmt.Sprintf(format, a...) makes it.
// A command that does not parse makes Run fail.
func (b *Batch) Add(format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	if _, err := parse(line); err != nil && b.err == nil {
		b.err = err
	}
	b.lines = append(b.lines, line)
}

// Lines returns the commands, as nft -f would read them.
func (b *Batch) Lines() []string { return b.lines }

// Len is the number of commands.
func (b *Batch) Len() int { return len(b.lines) }

// Run sends the batch on c, or on a connection to the caller's network
// namespace when c is nil, narrated as one step whose details are the
// commands (a single command is narrated as its netlink message). An empty
// batch does nothing.
func (b *Batch) Run(tr *trace.Tracer, c *nftables.Conn) error {
	if b.err != nil {
		return b.err
	}
	if len(b.lines) == 0 {
		return nil
	}
	if c == nil {
		var err error
		if c, err = nftables.New(); err != nil {
			return &kernel.Error{Op: "nft", What: "open nftables", Err: err}
		}
	}
	for _, line := range b.lines {
		cmd, _ := parse(line)
		if err := cmd.queue(c); err != nil {
			return fmt.Errorf("nft %s: %w", line, err)
		}
	}
	call, shell, detail := "netlink NFNL_MSG_BATCH_BEGIN … NFNL_MSG_BATCH_END (one transaction)", "nft -f - <<'EOF'", append(append([]string(nil), b.lines...), "EOF")
	what := fmt.Sprintf("nft -f - (%d commands, from %q)", len(b.lines), b.lines[0])
	if len(b.lines) == 1 {
		cmd, _ := parse(b.lines[0])
		call, shell, detail, what = "netlink "+cmd.message(), "nft "+b.lines[0], nil, "nft "+b.lines[0]
	}
	if err := tr.Step(call, shell, detail...); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return &kernel.Error{Op: "nft", What: what, Err: err}
	}
	return nil
}

// command is one parsed line.
type command struct {
	verb, object string // "add" "table", "insert" "rule", …
	table        *nftables.Table
	chain        *nftables.Chain
	rule         *nftables.Rule
	args         string // what follows the verb and object, for message
}

// commands are the commands Batch knows: the netlink message each is, and
// how google/nftables queues it.
var commands = map[string]struct {
	message string
	queue   func(*nftables.Conn, command) error
}{
	"add table":    {"NFT_MSG_NEWTABLE", func(n *nftables.Conn, c command) error { n.AddTable(c.table); return nil }},
	"delete table": {"NFT_MSG_DELTABLE", func(n *nftables.Conn, c command) error { n.DelTable(c.table); return nil }},
	"add chain":    {"NFT_MSG_NEWCHAIN", func(n *nftables.Conn, c command) error { n.AddChain(c.chain); return nil }},
	"flush chain":  {"NFT_MSG_DELRULE", func(n *nftables.Conn, c command) error { n.FlushChain(c.chain); return nil }},
	"add rule":     {"NFT_MSG_NEWRULE", func(n *nftables.Conn, c command) error { n.AddRule(c.rule); return nil }},
	"insert rule":  {"NFT_MSG_NEWRULE", func(n *nftables.Conn, c command) error { n.InsertRule(c.rule); return nil }},
	"delete rule":  {"NFT_MSG_DELRULE", func(n *nftables.Conn, c command) error { return n.DelRule(c.rule) }},
}

func (c command) message() string { return commands[c.verb+" "+c.object].message + "(" + c.args + ")" }

func (c command) queue(conn *nftables.Conn) error {
	return commands[c.verb+" "+c.object].queue(conn, c)
}

var families = map[string]nftables.TableFamily{
	"ip": nftables.TableFamilyIPv4, "ip6": nftables.TableFamilyIPv6, "inet": nftables.TableFamilyINet,
}

// parse reads one command:
//
//	add table FAMILY TABLE | delete table FAMILY TABLE
//	add chain FAMILY TABLE CHAIN [{ type filter|nat hook HOOK priority PRIO; [policy accept|drop;] }]
//	flush chain FAMILY TABLE CHAIN
//	add rule | insert rule FAMILY TABLE CHAIN STATEMENT… [comment "TEXT"]
//	delete rule FAMILY TABLE CHAIN handle N
func parse(line string) (command, error) {
	words, err := split(line)
	if err != nil {
		return command{}, fmt.Errorf("nft %s: %w", line, err)
	}
	bad := func(why string) (command, error) {
		return command{}, fmt.Errorf("nft %s: %s", line, why)
	}
	if len(words) < 4 {
		return bad("too short")
	}
	c := command{verb: words[0], object: words[1]}
	fam, ok := families[words[2]]
	if !ok {
		return bad("unknown family " + words[2])
	}
	c.table = &nftables.Table{Family: fam, Name: words[3]}
	c.args = strings.Join(words[2:], " ")
	if _, ok := commands[c.verb+" "+c.object]; !ok {
		return bad("unknown command " + c.verb + " " + c.object)
	}
	if c.object == "table" {
		if len(words) != 4 {
			return bad("a table command takes a family and a name")
		}
		return c, nil
	}
	if len(words) < 5 {
		return bad("no chain named")
	}
	c.chain = &nftables.Chain{Name: words[4], Table: c.table}
	rest := words[5:]
	switch c.object {
	case "chain":
		if c.verb == "flush" && len(rest) > 0 {
			return bad("flush chain takes no more")
		}
		if err := parseChainSpec(c.chain, rest); err != nil {
			return bad(err.Error())
		}
	case "rule":
		c.rule = &nftables.Rule{Table: c.table, Chain: c.chain}
		if c.verb == "delete" {
			if len(rest) != 2 || rest[0] != "handle" {
				return bad("delete rule takes: handle N")
			}
			h, err := strconv.ParseUint(rest[1], 10, 64)
			if err != nil {
				return bad("bad handle " + rest[1])
			}
			c.rule.Handle = h
			return c, nil
		}
		if len(rest) >= 2 && rest[len(rest)-2] == "comment" {
			c.rule.UserData = userdata.AppendString(nil, userdata.TypeComment, rest[len(rest)-1])
			rest = rest[:len(rest)-2]
		}
		if c.rule.Exprs, err = parseRule(rest); err != nil {
			return bad(err.Error())
		}
	}
	return c, nil
}

var hooks = map[string]*nftables.ChainHook{
	"prerouting": nftables.ChainHookPrerouting, "input": nftables.ChainHookInput, "forward": nftables.ChainHookForward,
	"output": nftables.ChainHookOutput, "postrouting": nftables.ChainHookPostrouting,
}

// priorities are the names nft(8) gives standard priorities (ip family).
var priorities = map[string]nftables.ChainPriority{
	"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100,
}

// parseChainSpec reads "{ type T hook H priority P; [policy P;] }".
func parseChainSpec(ch *nftables.Chain, w []string) error {
	if len(w) == 0 {
		return nil // a regular chain, entered only by jumps
	}
	if w[0] != "{" || w[len(w)-1] != "}" {
		return errors.New("a base chain is described in { }")
	}
	var policy string
	for i := 1; i < len(w)-1; i += 2 {
		if i+1 >= len(w)-1 {
			return fmt.Errorf("%s without a value", w[i])
		}
		key, val := w[i], strings.TrimSuffix(w[i+1], ";")
		switch key {
		case "type":
			switch val {
			case "filter":
				ch.Type = nftables.ChainTypeFilter
			case "nat":
				ch.Type = nftables.ChainTypeNAT
			default:
				return fmt.Errorf("unknown chain type %s", val)
			}
		case "hook":
			if ch.Hooknum = hooks[val]; ch.Hooknum == nil {
				return fmt.Errorf("unknown hook %s", val)
			}
		case "priority":
			p, ok := priorities[val]
			if !ok {
				n, err := strconv.Atoi(val)
				if err != nil {
					return fmt.Errorf("unknown priority %s", val)
				}
				p = nftables.ChainPriority(n)
			}
			ch.Priority = nftables.ChainPriorityRef(p)
		case "policy":
			policy = val
		default:
			return fmt.Errorf("unknown chain property %s", key)
		}
	}
	if ch.Type == "" || ch.Hooknum == nil || ch.Priority == nil {
		return errors.New("a base chain needs a type, a hook and a priority")
	}
	switch policy {
	case "":
	case "accept", "drop":
		p := nftables.ChainPolicyAccept
		if policy == "drop" {
			p = nftables.ChainPolicyDrop
		}
		ch.Policy = &p
	default:
		return fmt.Errorf("unknown policy %s", policy)
	}
	return nil
}

// split cuts a command into words, a "quoted string" being one word (its
// quotes removed) and "{", "}" words of their own.
func split(line string) ([]string, error) {
	var words []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ' || c == '\t':
			i++
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				return nil, errors.New("unterminated string")
			}
			s, err := strconv.Unquote(line[i : j+1])
			if err != nil {
				return nil, err
			}
			words = append(words, s)
			i = j + 1
		case c == '{' || c == '}':
			words = append(words, string(c))
			i++
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t{}\"", rune(line[j])) {
				j++
			}
			words = append(words, line[i:j])
			i = j
		}
	}
	return words, nil
}

// Comment returns a rule's comment, as nft(8) and iptables-nft store it.
func Comment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

// Chain names a chain as nft(8) commands do: "ip filter FORWARD".
func Chain(ch *nftables.Chain) string {
	return nftname.Family(ch.Table.Family) + " " + ch.Table.Name + " " + ch.Name
}

// DeleteCommented appends to b the deletion of every rule of ch whose
// comment is comment, found by listing the chain on c.
func DeleteCommented(b *Batch, c *nftables.Conn, ch *nftables.Chain, comment string) error {
	rules, err := c.GetRules(ch.Table, ch)
	if err != nil {
		return &kernel.Error{Op: "nft", What: "nft list chain " + Chain(ch), Err: err}
	}
	for _, r := range rules {
		if Comment(r) == comment {
			b.Add("delete rule %s handle %d", Chain(ch), r.Handle)
		}
	}
	return nil
}
