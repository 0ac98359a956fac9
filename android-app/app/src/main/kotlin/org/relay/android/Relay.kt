package org.relay.android

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.os.BatteryManager
import android.os.Build
import android.os.PowerManager
import android.telephony.SubscriptionManager
import uniffi.relay_core.ClientStatus
import uniffi.relay_core.ConnectionState
import uniffi.relay_core.DeviceHealth
import uniffi.relay_core.HealthProbe
import uniffi.relay_core.MessageEvent
import uniffi.relay_core.MessageEventKind
import uniffi.relay_core.Permissions
import uniffi.relay_core.RelayClient
import uniffi.relay_core.RelayListener
import uniffi.relay_core.SimInfo

/** What the service and the screens share: the agent's data directory and its latest news. */
object Relay {
    /** One line per recent message for the status screen: id, newest status, failure reason. */
    class Recent(val requestId: String, var status: String, var detail: String?, var at: Long)

    @Volatile var connection: ConnectionState = ConnectionState.Stopped
    @Volatile var lastChange: Long = 0
    @Volatile var sentToday: Int = 0
    private var today: Long = 0
    private val recent = ArrayList<Recent>()

    fun dataDir(context: Context): String = context.filesDir.absolutePath + "/relay"

    fun isPaired(context: Context): Boolean =
        try {
            RelayClient.open(dataDir(context)).use { it.status().paired }
        } catch (e: Exception) {
            false
        }

    fun status(context: Context): ClientStatus? =
        try {
            RelayClient.open(dataDir(context)).use { it.status() }
        } catch (e: Exception) {
            null
        }

    @Synchronized
    fun recentMessages(): List<Recent> = ArrayList(recent)

    @Synchronized
    private fun record(event: MessageEvent) {
        val (status, detail) = when (val kind = event.kind) {
            is MessageEventKind.Stored -> "stored" to null
            is MessageEventKind.Confirmed -> "confirmed" to null
            is MessageEventKind.Revoked -> "revoked" to kind.reason
            is MessageEventKind.HandedOver -> "sending" to null
            is MessageEventKind.Expired -> "expired" to null
            is MessageEventKind.Sent -> "sent" to null
            is MessageEventKind.Delivered -> "delivered" to null
            is MessageEventKind.Failed -> "failed" to "${kind.code}: ${kind.reason}"
            is MessageEventKind.Acknowledged -> return
        }
        val now = System.currentTimeMillis()
        if (status == "sent") {
            val day = now / 86_400_000L
            if (day != today) {
                today = day
                sentToday = 0
            }
            sentToday += 1
        }
        val line = recent.firstOrNull { it.requestId == event.requestId }
        if (line != null) {
            line.status = status
            line.detail = detail
            line.at = now
        } else {
            recent.add(0, Recent(event.requestId, status, detail, now))
            while (recent.size > 20) recent.removeAt(recent.size - 1)
        }
    }

    /** The agent's events: kept for the screens, and the notification is refreshed. */
    class Listener(private val onChange: () -> Unit) : RelayListener {
        override fun onConnectionState(state: ConnectionState) {
            connection = state
            lastChange = System.currentTimeMillis()
            onChange()
        }

        override fun onMessageEvent(event: MessageEvent) {
            record(event)
            onChange()
        }
    }

    fun granted(context: Context, permission: String): Boolean =
        context.checkSelfPermission(permission) == PackageManager.PERMISSION_GRANTED

    fun permissions(context: Context): Permissions {
        val power = context.getSystemService(PowerManager::class.java)
        return Permissions(
            granted(context, Manifest.permission.SEND_SMS),
            granted(context, Manifest.permission.READ_PHONE_STATE),
            Build.VERSION.SDK_INT < 33 || granted(context, Manifest.permission.POST_NOTIFICATIONS),
            power?.isIgnoringBatteryOptimizations(context.packageName) == true,
        )
    }

    /** The active SIMs (needs READ_PHONE_STATE; none without it). */
    fun sims(context: Context): List<SimInfo> {
        if (!granted(context, Manifest.permission.READ_PHONE_STATE)) return emptyList()
        val manager = context.getSystemService(SubscriptionManager::class.java) ?: return emptyList()
        return try {
            (manager.activeSubscriptionInfoList ?: emptyList()).map {
                SimInfo(it.simSlotIndex.toUByte(), it.subscriptionId, it.carrierName?.toString(), null)
            }
        } catch (e: SecurityException) {
            emptyList()
        }
    }

    /** Index = SIM slot, value = subscription id, -1 for an empty slot. */
    fun subscriptionIdsBySlot(sims: List<SimInfo>): IntArray {
        val slots = (sims.maxOfOrNull { it.slot.toInt() } ?: -1) + 1
        val ids = IntArray(slots) { -1 }
        for (sim in sims) ids[sim.slot.toInt()] = sim.subscriptionId ?: -1
        return ids
    }

    fun batteryPercent(context: Context): Int? {
        val battery = context.getSystemService(BatteryManager::class.java) ?: return null
        val level = battery.getIntProperty(BatteryManager.BATTERY_PROPERTY_CAPACITY)
        return if (level in 0..100) level else null
    }

    /** What the agent reports in its heartbeat. */
    class Health(private val context: Context) : HealthProbe {
        override fun snapshot(): DeviceHealth {
            val battery = context.getSystemService(BatteryManager::class.java)
            return DeviceHealth(
                batteryPercent(context)?.toUByte(),
                battery?.isCharging,
                null,
                null,
                sims(context),
                permissions(context),
            )
        }
    }
}
