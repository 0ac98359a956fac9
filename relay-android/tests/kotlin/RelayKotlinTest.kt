// The Kotlin bindings on the host JVM, through JNA, against the real librelay_android.so.
// Driven by relay-android/tests/kotlin.rs, which passes: <data dir> <pairing server base URL>.
// The pairing server is a small stand-in that answers code WRONG with the API's 401 error
// envelope and any other code with a pairing answer whose connect_url nobody listens on.

import java.net.URLEncoder
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import uniffi.relay_core.*

class KotlinTransport : SmsTransport {
    val sent = CopyOnWriteArrayList<OutgoingSms>()

    override fun send(sms: OutgoingSms, sink: StatusSink) {
        sent.add(sms)
        sink.report(TransportResult.Sent)
    }

    override fun recover(sms: OutgoingSms, lastReported: DeliveryStatus?, sink: StatusSink) {}
}

class KotlinListener : RelayListener {
    val states = CopyOnWriteArrayList<ConnectionState>()

    override fun onConnectionState(state: ConnectionState) {
        states.add(state)
    }

    override fun onMessageEvent(event: MessageEvent) {}
}

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("$what: expected ${E::class.simpleName}, got $e", e)
    }
    throw AssertionError("$what: expected ${E::class.simpleName}, nothing was thrown")
}

fun main(args: Array<String>) {
    val dataDir = args[0]
    val server = URLEncoder.encode(args[1], "UTF-8")
    val device = DeviceInfo("kotlin-host-test", "JVM", "0.0.0", listOf(SimInfo(0u, 1, "Test", null)))

    // A sync free function, and a typed error from it.
    val target = inspectPairingPayload("relay://pair?server=https%3A%2F%2Fsms.example.com&code=K7D2")
    check(target.serverUrl == "https://sms.example.com" && !target.pinned) { "inspected $target" }
    val bad = expectThrows<RelayException.InvalidPayload>("a payload that is no QR code") {
        inspectPairingPayload("hello")
    }
    check(bad.detail.contains("relay://pair")) { "detail was '${bad.detail}'" }

    RelayClient.open(dataDir).use { client ->
        val before = client.status()
        check(!before.paired && !before.running && before.connection is ConnectionState.Stopped) { "fresh $before" }
        val options = defaultClientOptions().copy(reconnectMinMs = 20uL, reconnectMaxMs = 100uL)

        // Not paired: start refuses with a typed error, whatever the Kotlin transport is.
        expectThrows<RelayException.NotPaired>("start before pairing") {
            client.start(KotlinTransport(), null, KotlinListener(), options)
        }

        val refused = runBlocking {
            // Async calls: a bad payload, then a real refusal over HTTP.
            val missing = expectThrows<RelayException.InvalidPayload>("pair without a server") {
                client.pair("relay://pair?code=1", device)
            }
            check(missing.detail.contains("lacks the server parameter")) { "detail was '${missing.detail}'" }
            val refused = expectThrows<RelayException.PairingRefused>("pair with a wrong code") {
                client.pair("relay://pair?server=$server&code=WRONG", device)
            }
            check(refused.status == 401.toUShort() && refused.code == "unauthorized") { "refused ${refused.status} ${refused.code}" }
            check(refused.detail == "That pairing code is not valid.") { "detail was '${refused.detail}'" }

            val creds = client.pair("relay://pair?server=$server&code=K7D2", device)
            check(creds.deviceId == "dev_kotlin" && creds.deviceName == "kotlin-host-test") { "paired as $creds" }
            refused
        }

        // Run: the link's state changes reach the Kotlin listener from the agent's threads.
        val transport = KotlinTransport()
        val listener = KotlinListener()
        val handle = client.start(transport, null, listener, options)
        expectThrows<RelayException.AlreadyRunning>("a second start") {
            client.start(KotlinTransport(), null, null, options)
        }
        val deadline = System.currentTimeMillis() + 10_000
        while (listener.states.none { it is ConnectionState.Disconnected } && System.currentTimeMillis() < deadline) {
            Thread.sleep(20)
        }
        check(listener.states.any { it is ConnectionState.Connecting }) { "states ${listener.states}" }
        check(listener.states.any { it is ConnectionState.Disconnected }) { "states ${listener.states}" }
        val running = client.status()
        check(running.paired && running.running && running.deviceId == "dev_kotlin") { "running $running" }

        runBlocking { handle.stop() }
        check(handle.isStopped()) { "handle not stopped" }
        val stopped = client.status()
        check(!stopped.running && stopped.connection is ConnectionState.Stopped) { "after stop $stopped" }
        check(listener.states.last() is ConnectionState.Stopped) { "states ${listener.states}" }
        handle.close()
        println(
            "KOTLIN TEST PASSED: typed errors ${bad::class.simpleName}/${refused::class.simpleName}(${refused.status}), " +
                "paired as ${stopped.deviceId}, ${listener.states.size} connection states in Kotlin, stopped cleanly"
        )
    }
}
