"""Changing a record schema without losing data (issue 25): the rules of
domain.schema_changes checked against the values customers hold, one version per accepted
change, and the values moved to the new shape.

Order (`change.change_schema`): check everything against what customers hold (`holdings`;
refusing changes nothing); claim the values of attributes that become channel identifiers
(new imports must find them as soon as the schema says so); switch the schema with a
compare-and-set on its version (a concurrent change is refused, 412) and keep the version
(`versions`); then move the values (`migration`: unset, convert, release claims). The switch
records what the move has to do as `migration`, so a process dying after it leaves the move
to the next change or start."""
