"""Telemedicine visits (docs/telemedicine.md): a video room per appointment of a
telemedicine type (:mod:`.rooms`), consent forms accepted in the portal
(:mod:`.consent`) and pre-visit documents stored encrypted (:mod:`.documents`)."""
