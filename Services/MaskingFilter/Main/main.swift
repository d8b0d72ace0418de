import MaskingFilter
import ServiceKit

await ServiceMain.run(MaskingFilterService.definition)
