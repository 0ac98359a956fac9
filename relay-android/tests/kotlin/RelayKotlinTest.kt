// The Kotlin bindings on the host JVM, through JNA, against the real librelay_android.so and a
// real relay-server. Driven by relay-android/tests/kotlin.rs, which passes:
// <data dir> <server base URL> <pairing payload from `relay-server pair`> <the account's API key>.
// Pairs, receives a message the API queued through a Kotlin SmsTransport, reports it sent and
// delivered, and waits until the API says delivered; prints "DELIVERED <request id>".

import java.net.HttpURLConnection
import java.net.URI
import java.net.URLEncoder
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import uniffi.relay_core.*

class KotlinTransport : SmsTransport {
    val sent = CopyOnWriteArrayList<OutgoingSms>()

    // Reports from another thread, later, as Android's result broadcasts do.
    override fun send(sms: OutgoingSms, sink: StatusSink) {
        sent.add(sms)
        Thread {
            Thread.sleep(50)
            sink.report(TransportResult.Sent)
            Thread.sleep(50)
            sink.report(TransportResult.Delivered)
        }.start()
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

/** One call to the server's HTTP API with the account's key: (status, body). */
fun api(base: String, key: String, method: String, path: String, body: String? = null): Pair<Int, String> {
    val conn = URI(base.trimEnd('/') + path).toURL().openConnection() as HttpURLConnection
    conn.requestMethod = method
    conn.setRequestProperty("Authorization", "Bearer $key")
    if (body != null) {
        conn.doOutput = true
        conn.setRequestProperty("Content-Type", "application/json")
        conn.outputStream.use { it.write(body.toByteArray()) }
    }
    val status = conn.responseCode
    val text = (if (status < 400) conn.inputStream else conn.errorStream)?.bufferedReader()?.use { it.readText() } ?: ""
    return status to text
}

/** A string field of a flat JSON answer (enough for request_id and status). */
fun field(json: String, name: String): String? = Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)

fun waitFor(what: String, millis: Long, done: () -> Boolean) {
    val deadline = System.currentTimeMillis() + millis
    while (!done()) {
        check(System.currentTimeMillis() < deadline) { "timed out waiting for $what" }
        Thread.sleep(20)
    }
}

fun main(args: Array<String>) {
    val dataDir = args[0]
    val baseUrl = args[1]
    val payload = args[2]
    val apiKey = args[3]
    val server = URLEncoder.encode(baseUrl, "UTF-8")
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
            check(refused.status.toInt() in 400..499 && refused.code.isNotEmpty()) { "refused ${refused.status} ${refused.code}" }
            check(refused.detail.contains("pairing code")) { "detail was '${refused.detail}'" }

            val creds = client.pair(payload, device)
            check(creds.deviceId.isNotEmpty() && creds.deviceName == "kotlin-host-test") { "paired as $creds" }
            refused
        }

        // Run: the link's state changes reach the Kotlin listener from the agent's threads.
        val transport = KotlinTransport()
        val listener = KotlinListener()
        val handle = client.start(transport, null, listener, options)
        expectThrows<RelayException.AlreadyRunning>("a second start") {
            client.start(KotlinTransport(), null, null, options)
        }
        waitFor("the link to the real server", 20_000) { listener.states.any { it is ConnectionState.Connected } }
        check(listener.states.any { it is ConnectionState.Connecting }) { "states ${listener.states}" }
        val running = client.status()
        check(running.paired && running.running && running.deviceId != null) { "running $running" }

        // A message through the API reaches the Kotlin transport; its reports reach the API.
        val (status, queued) = api(baseUrl, apiKey, "POST", "/v1/messages", """{"to": "+923001234567", "message": "Hello from the API"}""")
        check(status == 202) { "POST /v1/messages: $status $queued" }
        val id = field(queued, "request_id") ?: throw AssertionError("no request_id in $queued")
        waitFor("the message to reach the transport", 20_000) { transport.sent.any { it.requestId == id } }
        val sms = transport.sent.first { it.requestId == id }
        check(sms.to == "+923001234567" && sms.body == "Hello from the API") { "transport got $sms" }
        var seen = ""
        waitFor("the API to say delivered", 20_000) {
            seen = api(baseUrl, apiKey, "GET", "/v1/messages/$id").second
            field(seen, "status") == "delivered"
        }

        runBlocking { handle.stop() }
        check(handle.isStopped()) { "handle not stopped" }
        val stopped = client.status()
        check(!stopped.running && stopped.connection is ConnectionState.Stopped) { "after stop $stopped" }
        check(listener.states.last() is ConnectionState.Stopped) { "states ${listener.states}" }
        handle.close()
        println("DELIVERED $id")
        println(
            "KOTLIN TEST PASSED: typed errors ${bad::class.simpleName}/${refused::class.simpleName}(${refused.status}), " +
                "paired as ${stopped.deviceId} with the real server, message $id delivered through a Kotlin transport, " +
                "${listener.states.size} connection states in Kotlin, stopped cleanly"
        )
    }
}
