import Foundation
import Synchronization

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: the holder renews the Lease
/// every retry period; a candidate takes it over when the record has not changed for a lease duration, timed
/// on its own clock (never by comparing the holder's timestamps with its own, so clock skew does not matter);
/// updates carry the resourceVersion read, so of two candidates one wins and the other gets 409. The leader
/// also keeps small annotations on the Lease (what must survive a takeover) and hands them to its successor.
public final class LeaderElector: Sendable {
    /// Where the Lease is and how long a term lasts.
    public struct Settings: Sendable {
        public var namespace: String
        public var name: String
        /// This candidate, unique among the replicas (the pod's name).
        public var identity: String
        /// A holder that has not renewed for this long has lost the Lease.
        public var leaseDuration: Duration
        /// The leader steps down when it could not renew for this long (shorter than the duration, so it stops
        /// before another can take over).
        public var renewDeadline: Duration
        /// How often the Lease is read and renewed.
        public var retryPeriod: Duration

        public init(namespace: String, name: String, identity: String, leaseDuration: Duration = .seconds(15)) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
            self.leaseDuration = leaseDuration
            renewDeadline = leaseDuration * 2 / 3
            retryPeriod = max(leaseDuration * 2 / 15, .milliseconds(200))
        }
    }

    public let settings: Settings
    private let client: KubernetesClient
    private let log: @Sendable (String) -> Void
    private struct State {
        var leading = false
        var holder: String?
        var observedRecord: String?
        var observedAt: ContinuousClock.Instant?
        var lastRenewal: ContinuousClock.Instant?
        var annotations: [String: String] = [:]
        /// Keys this candidate writes (a key set to nil is removed from the Lease).
        var ownedKeys: Set<String> = []
        var problem: String?

        /// `existing` with this candidate's keys written over it.
        func merged(over existing: [String: String]) -> [String: String] {
            var merged = existing
            for key in ownedKeys { merged[key] = annotations[key] }
            return merged
        }
    }
    private let state = Mutex(State())

    public init(client: KubernetesClient, settings: Settings, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.settings = settings
        self.log = log
    }

    /// True while this candidate holds the Lease.
    public var isLeader: Bool { state.withLock { $0.leading } }
    /// The holder last seen (nil before the first read).
    public var holder: String? { state.withLock { $0.holder } }

    /// Sets (or with nil removes) an annotation the leader writes on the Lease at its next renewal.
    public func setAnnotation(_ key: String, _ value: String?) {
        state.withLock { state in
            state.annotations[key] = value
            state.ownedKeys.insert(key)
        }
    }

    private var path: String { "/apis/coordination.k8s.io/v1/namespaces/\(settings.namespace)/leases/\(settings.name)" }

    /// Campaigns and renews until cancelled. `onStartedLeading` gets the Lease's annotations as the previous
    /// leader left them; `onStoppedLeading` is called when the Lease is lost. On cancellation a leader
    /// releases the Lease, so that a standby takes over at once rather than after a lease duration.
    public func run(onStartedLeading: @Sendable ([String: String]) -> Void, onStoppedLeading: @Sendable () -> Void) async {
        while !Task.isCancelled {
            await step(onStartedLeading: onStartedLeading, onStoppedLeading: onStoppedLeading)
            try? await Task.sleep(for: settings.retryPeriod)
        }
        // In a task of its own: this one is cancelled, and its requests would be too.
        await Task { await self.release() }.value
    }

    /// One read, then a create, renewal or takeover as the Lease allows.
    func step(onStartedLeading: @Sendable ([String: String]) -> Void, onStoppedLeading: @Sendable () -> Void) async {
        let now = ContinuousClock.now
        let lease: Kubernetes.Lease
        do throws(KubernetesError) {
            lease = try await client.get(Kubernetes.Lease.self, at: path)
        } catch {
            if case .http(status: 404, _) = error {
                await create(now: now, onStartedLeading: onStartedLeading)
            } else {
                failed(error, now: now, onStoppedLeading: onStoppedLeading)
            }
            return
        }
        let holder = lease.spec?.holderIdentity ?? ""
        let record = "\(holder)|\(lease.spec?.renewTime ?? "")|\(lease.spec?.leaseTransitions ?? 0)"
        let (leading, expired) = state.withLock { state -> (Bool, Bool) in
            state.holder = holder.isEmpty ? nil : holder
            if state.observedRecord != record {
                state.observedRecord = record
                state.observedAt = now
            }
            let duration = lease.spec?.leaseDurationSeconds.map { Duration.seconds($0) } ?? settings.leaseDuration
            return (state.leading, state.observedAt.map { now - $0 >= duration } ?? false)
        }
        if holder == settings.identity {
            await write(lease, takeover: false, now: now, wasLeading: leading, onStartedLeading: onStartedLeading, onStoppedLeading: onStoppedLeading)
        } else if holder.isEmpty || expired {
            await write(lease, takeover: true, now: now, wasLeading: leading, onStartedLeading: onStartedLeading, onStoppedLeading: onStoppedLeading)
        } else if leading {
            stepDown("\(holder) holds the Lease now", onStoppedLeading: onStoppedLeading)
        }
    }

    private func create(now: ContinuousClock.Instant, onStartedLeading: @Sendable ([String: String]) -> Void) async {
        let stamp = KubernetesTime.microTime(Date())
        let annotations = state.withLock { $0.annotations }
        let lease = Kubernetes.Lease(
            metadata: .init(name: settings.name, namespace: settings.namespace, annotations: annotations.isEmpty ? nil : annotations),
            spec: .init(holderIdentity: settings.identity, leaseDurationSeconds: Int(settings.leaseDuration.components.seconds),
                        acquireTime: stamp, renewTime: stamp, leaseTransitions: 0))
        do throws(KubernetesError) {
            _ = try await client.post(lease, at: "/apis/coordination.k8s.io/v1/namespaces/\(settings.namespace)/leases", answer: Kubernetes.Lease.self)
            started(now: now, inherited: [:], onStartedLeading: onStartedLeading)
        } catch {
            // 409: another candidate created it first; the next read shows who.
            if case .http(status: 409, _) = error { return }
            report(error)
        }
    }

    private func write(_ lease: Kubernetes.Lease, takeover: Bool, now: ContinuousClock.Instant, wasLeading: Bool,
                       onStartedLeading: @Sendable ([String: String]) -> Void, onStoppedLeading: @Sendable () -> Void) async {
        var updated = lease
        let stamp = KubernetesTime.microTime(Date())
        var spec = lease.spec ?? .init()
        if takeover || !wasLeading {
            spec.acquireTime = stamp
            if takeover { spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1 }
        }
        spec.holderIdentity = settings.identity
        spec.leaseDurationSeconds = Int(settings.leaseDuration.components.seconds)
        spec.renewTime = stamp
        updated.spec = spec
        let inherited = lease.metadata.annotations ?? [:]
        if wasLeading {
            // Ours to write: merge them over what the Lease holds (other writers' keys stay).
            let merged = state.withLock { $0.merged(over: inherited) }
            updated.metadata.annotations = merged.isEmpty ? nil : merged
        }
        do throws(KubernetesError) {
            _ = try await client.put(updated, at: path, answer: Kubernetes.Lease.self)
            state.withLock { $0.holder = settings.identity }
            if wasLeading {
                state.withLock { $0.lastRenewal = now; $0.problem = nil }
            } else {
                started(now: now, inherited: inherited, onStartedLeading: onStartedLeading)
            }
        } catch {
            if case .http(status: 409, _) = error { return }   // another candidate wrote first
            failed(error, now: now, onStoppedLeading: onStoppedLeading)
        }
    }

    private func started(now: ContinuousClock.Instant, inherited: [String: String], onStartedLeading: @Sendable ([String: String]) -> Void) {
        state.withLock { state in
            state.leading = true
            state.lastRenewal = now
            state.holder = settings.identity
            state.problem = nil
            // Carry what the previous leader left until this leader says otherwise.
            for (key, value) in inherited where state.annotations[key] == nil { state.annotations[key] = value }
        }
        log("leading: holds the Lease \(settings.namespace)/\(settings.name) as \(settings.identity)")
        onStartedLeading(inherited)
    }

    private func failed(_ error: KubernetesError, now: ContinuousClock.Instant, onStoppedLeading: @Sendable () -> Void) {
        report(error)
        let overdue = state.withLock { state in state.leading && (state.lastRenewal.map { now - $0 >= settings.renewDeadline } ?? true) }
        if overdue { stepDown("could not renew the Lease for \(settings.renewDeadline)", onStoppedLeading: onStoppedLeading) }
    }

    private func stepDown(_ why: String, onStoppedLeading: @Sendable () -> Void) {
        let was = state.withLock { state -> Bool in
            defer { state.leading = false }
            return state.leading
        }
        guard was else { return }
        log("standing by: \(why)")
        onStoppedLeading()
    }

    private func report(_ error: KubernetesError) {
        let first = state.withLock { state -> Bool in
            defer { state.problem = error.description }
            return state.problem != error.description
        }
        if first { log("Lease \(settings.namespace)/\(settings.name): \(error.description); retrying") }
    }

    /// Writes the annotations now rather than at the next renewal (before an alert goes out, so that a
    /// successor knows of it even if this leader dies the moment after); false when it could not.
    public func persistAnnotations() async -> Bool {
        guard state.withLock({ $0.leading }) else { return false }
        guard var lease = try? await client.get(Kubernetes.Lease.self, at: path), lease.spec?.holderIdentity == settings.identity else { return false }
        let merged = state.withLock { $0.merged(over: lease.metadata.annotations ?? [:]) }
        lease.metadata.annotations = merged.isEmpty ? nil : merged
        lease.spec?.renewTime = KubernetesTime.microTime(Date())
        guard (try? await client.put(lease, at: path, answer: Kubernetes.Lease.self)) != nil else { return false }
        state.withLock { $0.lastRenewal = .now }
        return true
    }

    /// Gives the Lease up (holder cleared, annotations kept), so a standby takes over at its next read.
    func release() async {
        guard state.withLock({ $0.leading }) else { return }
        state.withLock { $0.leading = false }
        guard var lease = try? await client.get(Kubernetes.Lease.self, at: path), lease.spec?.holderIdentity == settings.identity else { return }
        let merged = state.withLock { $0.merged(over: lease.metadata.annotations ?? [:]) }
        lease.metadata.annotations = merged.isEmpty ? nil : merged
        lease.spec?.holderIdentity = nil
        lease.spec?.leaseDurationSeconds = 1
        _ = try? await client.put(lease, at: path, answer: Kubernetes.Lease.self)
    }
}
