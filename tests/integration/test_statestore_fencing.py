"""Fencing tokens (statestore-protocol.md 1.5, 2): the token is a lock's version (the __ts of
the SET NEX PX that acquired it); a key written with __ft is protected and then needs a token
at least as new on SET, DEL and VDEL; GET needs none."""

import unittest

from support.edgemq_harness import DaemonTestCase
from support.statestore_client import (ERR_FT_LOWER, ERR_FT_REQUIRED, NIL, NOT_APPLIED, OK, StateStoreTestMixin, err,
                                       hlc_key, integer)


class StateStoreFencingTest(StateStoreTestMixin, DaemonTestCase):
    config = {"statestore": {"enabled": True}}

    def acquire(self, c, lock, holder):
        r = self.assertReply(c.set(lock, holder, nex=True, px=10000), OK, ts="newer")
        return r.ts

    def two_tokens(self, c):
        """An older and a newer lock token (two successive holders of one lock)."""
        lock = self.key("lock")
        old = self.acquire(c, lock, b"client1")
        self.assertReply(c.vdel(lock, b"client1"), integer(1))
        new = self.acquire(c, lock, b"client2")
        self.assertReply(c.vdel(lock, b"client2"), integer(1))
        self.assertGreater(hlc_key(new), hlc_key(old))
        return old, new

    def test_lock_then_protected_set(self):
        c = self.ss_client()
        lock, k = self.key("lock"), self.key("protected")
        token = self.acquire(c, lock, b"client1")
        self.assertReply(c.set(lock, b"client2", nex=True, px=10000), NOT_APPLIED, ts=True)  # held
        self.assertReply(c.set(k, b"v1", ft=token), OK, ts="newer")
        self.assertReply(c.set(k, b"v2"), err(ERR_FT_REQUIRED))
        self.assertReply(c.get(k), b"$2\r\nv1\r\n")  # GET needs no token
        self.assertReply(c.set(k, b"v3", ft=token), OK)  # the same token again
        self.assertReply(c.get(k), b"$2\r\nv3\r\n")
        self.assertReply(c.vdel(lock, b"client1"), integer(1))

    def test_older_token_refused_newer_accepted_and_replaces(self):
        c = self.ss_client()
        old, new = self.two_tokens(c)
        k = self.key("protected")
        self.assertReply(c.set(k, b"a", ft=new), OK)
        self.assertReply(c.set(k, b"b", ft=old), err(ERR_FT_LOWER))
        self.assertReply(c.get(k), b"$1\r\na\r\n")
        # a newer token is accepted and from then on protects the key
        lock = self.key("lock3")
        newest = self.acquire(c, lock, b"client3")
        self.assertReply(c.set(k, b"c", ft=newest), OK)
        self.assertReply(c.set(k, b"d", ft=new), err(ERR_FT_LOWER))  # the newer token replaced it
        self.assertReply(c.get(k), b"$1\r\nc\r\n")

    def test_del_on_protected_key_needs_token(self):
        c = self.ss_client()
        old, new = self.two_tokens(c)
        k = self.key("protected")
        self.assertReply(c.set(k, b"v", ft=new), OK)
        self.assertReply(c.delete(k), err(ERR_FT_REQUIRED))
        self.assertReply(c.delete(k, ft=old), err(ERR_FT_LOWER))
        self.assertReply(c.get(k), b"$1\r\nv\r\n")
        self.assertReply(c.delete(k, ft=new), integer(1), ts="newer")
        self.assertReply(c.get(k), NIL, ts=False)
        # the token went with the key: a plain SET works again and the key is unprotected
        self.assertReply(c.set(k, b"w"), OK)
        self.assertReply(c.set(k, b"x"), OK)
        self.assertReply(c.delete(k), integer(1))

    def test_vdel_on_protected_key_needs_token(self):
        c = self.ss_client()
        old, new = self.two_tokens(c)
        k = self.key("protected")
        self.assertReply(c.set(k, b"v", ft=new), OK)
        self.assertReply(c.vdel(k, b"v"), err(ERR_FT_REQUIRED))
        self.assertReply(c.vdel(k, b"v", ft=old), err(ERR_FT_LOWER))
        self.assertReply(c.vdel(k, b"other", ft=new), integer(-1))
        self.assertReply(c.get(k), b"$1\r\nv\r\n")
        self.assertReply(c.vdel(k, b"v", ft=new), integer(1), ts="newer")
        self.assertReply(c.get(k), NIL)
        self.assertReply(c.set(k, b"w"), OK)  # unprotected again
        self.assertReply(c.delete(k), integer(1))

    def test_unprotected_key_accepts_any_token_and_becomes_protected(self):
        c = self.ss_client()
        old, new = self.two_tokens(c)
        k = self.key("plain")
        self.assertReply(c.set(k, b"v"), OK)
        self.assertReply(c.delete(k, ft=old), integer(1))  # an unprotected key: the token is irrelevant
        self.assertReply(c.set(k, b"v"), OK)
        self.assertReply(c.set(k, b"v2", ft=old), OK)  # stores the token
        self.assertReply(c.set(k, b"v3"), err(ERR_FT_REQUIRED))
        self.assertReply(c.set(k, b"v4", ft=new), OK)
        self.assertReply(c.set(k, b"v5", ft=old), err(ERR_FT_LOWER))
        self.assertReply(c.delete(k, ft=new), integer(1))

    def test_tokens_from_other_clients_are_compared_by_version(self):
        # The store relates nothing but versions: any client holding a newer token may write.
        a = self.ss_client()
        b = self.ss_client()
        old, new = self.two_tokens(a)
        k = self.key("shared")
        self.assertReply(a.set(k, b"from-a", ft=old), OK)
        self.assertReply(b.set(k, b"from-b", ft=new), OK)
        self.assertReply(a.set(k, b"stale-a", ft=old), err(ERR_FT_LOWER))
        self.assertReply(a.get(k), b"$6\r\nfrom-b\r\n")


if __name__ == "__main__":
    unittest.main()
