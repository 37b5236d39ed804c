package mapping

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a mapping or a configuration file, at a line of it: the one
// "file:line: field: problem" type both report with (connector's config loader uses it too).
type Problem struct {
	File  string
	Line  int    // 1-based; 0 when the problem is about the file as a whole
	Field string // dotted path of the key, e.g. "activity.fields.Subject"; "" when none applies
	Msg   string
}

// String formats the problem as "file:line: field: problem", leaving out the parts that are empty.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Field != "" {
		b.WriteString(": ")
		b.WriteString(p.Field)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found while loading a mapping or a configuration.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line, in file and line order.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while a mapping is parsed and checked.
type problems struct {
	list []Problem
}

func (ps *problems) add(file string, line int, field, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when there were no problems, else an *Error sorted by file and line (stable, so problems
// on one line keep the order they were found in).
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return &Error{Problems: list}
}
