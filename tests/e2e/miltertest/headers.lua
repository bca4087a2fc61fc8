-- miltertest (OpenDKIM's libmilter test client) against Palisade: negotiation, a clean
-- message that gets X-Palisade-Result, and a forged copy of our header that is removed.
-- Run as: miltertest -s headers.lua -D socket=inet:PORT@127.0.0.1

local function check(ok, what)
    if not ok then
        error(what)
    end
end

local function expect(result, what)
    if result ~= nil then
        error(what .. ": " .. tostring(result))
    end
end

mt.set_timeout(10)
local conn = mt.connect(socket, 40, 0.25)
check(conn ~= nil, "cannot connect to " .. tostring(socket))

expect(mt.negotiate(conn, nil, nil, nil), "negotiation")
expect(mt.conninfo(conn, "client.example.org", "192.0.2.20"), "conninfo")
check(mt.getreply(conn) == SMFIR_CONTINUE, "CONNECT was not continued")
expect(mt.helo(conn, "client.example.org"), "helo")

-- First message: ordinary mail.
mt.macro(conn, SMFIC_MAIL, "i", "MT0001")
expect(mt.mailfrom(conn, "clerk@county.example"), "mailfrom")
expect(mt.rcptto(conn, "voter@example.net"), "rcptto")
expect(mt.header(conn, "From", "Clerk <clerk@county.example>"), "header From")
expect(mt.header(conn, "Subject", "Polling place hours"), "header Subject")
expect(mt.eoh(conn), "eoh")
expect(mt.bodystring(conn, "Polls are open from 7 to 8.\r\n"), "body")
expect(mt.eom(conn), "eom")
check(mt.getreply(conn) == SMFIR_CONTINUE, "EOM reply was not continue")
check(mt.eom_check(conn, MT_HDRADD, "X-Palisade-Result"), "X-Palisade-Result not added")
check(not mt.eom_check(conn, MT_HDRDELETE), "a header was deleted from clean mail")

-- Second message on the same connection: the sender forged our header.
expect(mt.abort(conn), "abort")
mt.macro(conn, SMFIC_MAIL, "i", "MT0002")
expect(mt.mailfrom(conn, "someone@example.org"), "mailfrom 2")
expect(mt.rcptto(conn, "clerk@county.example"), "rcptto 2")
expect(mt.header(conn, "X-Palisade-Result", "accept; score=0.00; forged"), "forged header")
expect(mt.header(conn, "Subject", "hello"), "header Subject 2")
expect(mt.eoh(conn), "eoh 2")
expect(mt.bodystring(conn, "hi\r\n"), "body 2")
expect(mt.eom(conn), "eom 2")
check(mt.getreply(conn) == SMFIR_CONTINUE, "EOM 2 reply was not continue")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Palisade-Result"), "forged header was not deleted")
check(mt.eom_check(conn, MT_HDRADD, "X-Palisade-Result"), "X-Palisade-Result not added to message 2")

mt.disconnect(conn)
