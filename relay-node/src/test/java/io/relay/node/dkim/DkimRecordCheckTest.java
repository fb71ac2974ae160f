package io.relay.node.dkim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The p= of a TXT record as JNDI hands it over: strings joined with a space, those with a space quoted. */
class DkimRecordCheckTest {
    @Test
    void thePublicKeyIsReadAcrossTheStringsOfARecord() {
        assertEquals("MIIBabc+/def=", DkimRecordCheck.publicKey("\"v=DKIM1; k=rsa; p=MIIBabc\" +/def="));
        assertEquals("MIIBabc+/def=", DkimRecordCheck.publicKey("v=DKIM1;k=rsa;p=MIIBabc+/def="));
        assertEquals("abc", DkimRecordCheck.publicKey("v=DKIM1; p = abc ; t=y"));
        assertEquals("", DkimRecordCheck.publicKey("v=DKIM1; k=rsa; p="));
        assertNull(DkimRecordCheck.publicKey("v=spf1 -all"));
        // a tag that only ends in p is not p=
        assertNull(DkimRecordCheck.publicKey("v=DKIM1; xp=abc"));
    }
}
