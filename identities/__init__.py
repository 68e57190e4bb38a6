"""The identity referential: identities, their INS, statuses, attributes and the rules around them."""
