package salesforce

import (
	"context"
	"fmt"
	"strings"
)

// What a mapping uses a field for, in a FieldRef.
const (
	UsePhone    = "phone"    // a phone field searched on Contact and Lead (match.phone_fields)
	UseCreate   = "create"   // a field set on the Lead or Contact created when nothing matches (create.*)
	UseActivity = "activity" // a Task field the mapping renders (activity.fields)
	UseID       = "id"       // the Task external-ID field (activity.id_field)
	UseUpdate   = "update"   // a field contact_updates sets on the matched Contact or Lead
)

// FieldRef is a field a mapping names, and where: CheckFields echoes File, Line and Key into its findings.
// An empty Name checks the object itself (UseCreate: Object is createable; UseActivity: Task is).
type FieldRef struct {
	Use    string // UsePhone, UseCreate, UseActivity or UseID
	Object string // UseCreate: "Lead" or "Contact"; ignored otherwise (phone: Contact and Lead; activity, id: Task)
	Name   string // the field's API name
	// ClaimsUnique is the mapping's id_field_unique for UseID: the field must then be unique in Salesforce.
	ClaimsUnique bool
	File         string
	Line         int
	Key          string // the mapping key, e.g. "activity.fields.Onoff_Direction__c"
}

// Finding is a problem with one FieldRef.
type Finding struct {
	File    string
	Line    int
	Key     string
	Problem string
}

// String is "file:line: key: problem", the form `onoffsync check` prints.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		fmt.Fprintf(&b, ":%d", f.Line)
	}
	if f.Key != "" {
		b.WriteString(": " + f.Key)
	}
	b.WriteString(": " + f.Problem)
	return b.String()
}

const hiddenHint = " (or field-level security hides it from the integration user)"

// CheckFields reads the Contact, Lead and Task describe afresh (3 API calls) and reports, for each ref,
// what would make Salesforce refuse or ignore it: a field missing from its object or hidden from the
// integration user, a phone field that is not of type phone (IN PHONE FIELDS skips it), a create or
// activity field the user cannot create, an id field that is not an External ID (or not unique when the
// mapping says it is), an object the user cannot create records of. What it cannot verify from describe
// (validation rules, required fields of page layouts, sharing) it does not report. An error means the
// check itself failed (credentials, network): no finding is reliable then.
func (c *Client) CheckFields(ctx context.Context, refs []FieldRef) ([]Finding, error) {
	c.Reload()
	objs := map[string]*objectInfo{}
	for _, o := range []string{"Contact", "Lead", "Task"} {
		info, err := c.describe(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("check fields: %w", err)
		}
		objs[o] = info
	}
	var out []Finding
	for _, r := range refs {
		for _, p := range checkRef(objs, r) {
			out = append(out, Finding{File: r.File, Line: r.Line, Key: r.Key, Problem: p})
		}
	}
	return out, nil
}

func checkRef(objs map[string]*objectInfo, r FieldRef) []string {
	switch r.Use {
	case UsePhone:
		return checkPhone(objs["Contact"], objs["Lead"], r.Name)
	case UseCreate:
		o := objs[r.Object]
		if o == nil {
			return []string{fmt.Sprintf("%q is not an object the adapter creates (Lead or Contact)", r.Object)}
		}
		return checkWritable(o, r.Name)
	case UseActivity:
		return checkWritable(objs["Task"], r.Name)
	case UseID:
		return checkIDField(objs["Task"], r)
	case UseUpdate:
		return checkUpdatable(objs["Contact"], objs["Lead"], r.Name)
	}
	return []string{fmt.Sprintf("unknown use %q", r.Use)}
}

func checkPhone(contact, lead *objectInfo, name string) []string {
	var on []string
	var probs []string
	for _, o := range []*objectInfo{contact, lead} {
		f, ok := o.fields[name]
		if o.missing || !ok {
			continue
		}
		on = append(on, o.name)
		if f.Type != "phone" {
			probs = append(probs, fmt.Sprintf("%s.%s is a %s field, not phone: SOSL IN PHONE FIELDS does not search it", o.name, name, f.Type))
		}
	}
	if len(on) == 0 {
		return []string{fmt.Sprintf("no field %s on Contact or Lead%s", name, hiddenHint)}
	}
	return probs
}

func checkWritable(o *objectInfo, name string) []string {
	if o.missing {
		return []string{fmt.Sprintf("the integration user cannot read %s objects (describe answered 404)", o.name)}
	}
	if name == "" {
		if !o.createable {
			return []string{fmt.Sprintf("the integration user cannot create %s records (object permission \"Create\")", o.name)}
		}
		return nil
	}
	f, ok := o.fields[name]
	switch {
	case !ok:
		return []string{fmt.Sprintf("no field %s on %s%s", name, o.name, hiddenHint)}
	case !f.Createable:
		return []string{fmt.Sprintf("%s.%s is not createable by the integration user (read-only, or field-level security gives read access only)", o.name, name)}
	}
	return nil
}

// checkUpdatable reports a contact_updates field that Contact or Lead lacks or the integration user cannot
// update: an SMS matched to a record of that object would fail its update.
func checkUpdatable(contact, lead *objectInfo, name string) []string {
	var probs []string
	for _, o := range []*objectInfo{contact, lead} {
		f, ok := o.fields[name]
		switch {
		case o.missing:
		case !ok:
			probs = append(probs, fmt.Sprintf("no field %s on %s%s: an SMS matched to a %s fails its update", name, o.name, hiddenHint, o.name))
		case !f.Updateable:
			probs = append(probs, fmt.Sprintf("%s.%s is not updateable by the integration user (read-only, or field-level security gives read access only)", o.name, name))
		}
	}
	return probs
}

// CheckContactFields checks contact_updates fields on Contact and Lead (crm.ContactFieldChecker).
func (c *Client) CheckContactFields(ctx context.Context, names []string) ([][]string, error) {
	refs := make([]FieldRef, len(names))
	for i, n := range names {
		refs[i] = FieldRef{Use: UseUpdate, Name: n, Key: n}
	}
	c.Reload()
	objs := map[string]*objectInfo{}
	for _, o := range []string{"Contact", "Lead"} {
		info, err := c.describe(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("check contact fields: %w", err)
		}
		objs[o] = info
	}
	out := make([][]string, len(names))
	for i, r := range refs {
		out[i] = checkRef(objs, r)
	}
	return out, nil
}

func checkIDField(task *objectInfo, r FieldRef) []string {
	if probs := checkWritable(task, r.Name); len(probs) > 0 {
		return probs
	}
	f := task.fields[r.Name]
	var probs []string
	if !f.ExternalID {
		probs = append(probs, fmt.Sprintf("Task.%s is not an External ID field: the upsert by it is refused", r.Name))
	}
	if r.ClaimsUnique && !f.Unique {
		probs = append(probs, fmt.Sprintf("Task.%s is not unique in Salesforce, but id_field_unique says it is: make the field Unique or set id_field_unique: false", r.Name))
	}
	if f.Type != "string" {
		probs = append(probs, fmt.Sprintf("Task.%s is a %s field; the Onoff id needs a text field", r.Name, f.Type))
	}
	return probs
}
