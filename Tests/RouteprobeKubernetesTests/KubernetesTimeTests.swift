import Foundation
import Testing
import RouteprobeKubernetes

@Suite struct KubernetesTimeTests {
    /// 2026-12-05T13:10:49.123456Z
    let date = Date(timeIntervalSince1970: 1_796_476_249.123456)

    @Test("a Time is written in UTC to the second, a MicroTime to the microsecond, as the API server writes them")
    func writing() {
        #expect(KubernetesTime.time(date) == "2026-12-05T13:10:49Z")
        #expect(KubernetesTime.microTime(date) == "2026-12-05T13:10:49.123456Z")
    }

    @Test("a Time, a MicroTime and an RFC 3339 time with an offset are read to the second; anything else is nil")
    func reading() {
        #expect(KubernetesTime.seconds("2026-12-05T13:10:49Z") == 1_796_476_249)
        #expect(KubernetesTime.seconds("2026-12-05T13:10:49.123456Z") == 1_796_476_249)
        #expect(KubernetesTime.seconds("2026-12-05T15:10:49+02:00") == 1_796_476_249)
        #expect(KubernetesTime.seconds(KubernetesTime.time(date)) == 1_796_476_249)
        #expect(KubernetesTime.seconds(KubernetesTime.microTime(date)) == 1_796_476_249)
        for text in ["", "yesterday", "2026-12-05", "2026-13-05T13:10:49Z", "2026-12-05 13:10:49", "1796476249"] {
            #expect(KubernetesTime.seconds(text) == nil, "\(text)")
        }
    }
}
