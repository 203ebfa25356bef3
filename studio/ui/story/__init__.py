"""The Story tab: outline → scenes (picture, narration) → music bed → preview → MP4 export."""
