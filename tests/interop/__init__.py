"""Interop tests: our SDK against real SIP infrastructure (Kamailio, rtpengine, sipp, baresip, JsSIP)."""
