import DOMRelay
import ServiceKit

await ServiceMain.run(DOMRelayService.definition)
